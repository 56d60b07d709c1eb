"""The periodic jobs, run on a schedule inside the served process, one runner at a time.

The server entry points start `start_scheduler(app)` (api/server.py for `mentorhub serve`, the gunicorn
hook `post_worker_init` in deploy/gunicorn.conf.py): a daemon thread (a green thread under eventlet's
monkey patching) that every `jobs_interval_seconds` takes the database lease `periodic-jobs` and, if it
holds it, runs every job once: booking jobs (expire unanswered requests, complete past sessions, send
reminders), payment reconciliation, and the search ranking refresh. Every job is idempotent, so a run
that overlaps another (a holder slower than its lease) does no harm; the lease only keeps N workers from
doing the same work N times.

The lease is a row of `job_leases`, taken with one atomic statement on SQLite and PostgreSQL alike:
`UPDATE job_leases SET holder = :me, expires_at = :now + ttl WHERE name = :name AND (expires_at < :now OR
holder = :me)`; one affected row means the caller holds it. The holder renews it on every tick; a holder
that dies leaves it to be taken over when it expires (3 intervals). Lease times are the real clock (they
coordinate processes); the jobs themselves ask the bookings' clock (`api.bookings.service.now_utc`).

At scale, set JOBS_INTERVAL_SECONDS=0 on the web servers and run `mentorhub jobs --loop` as one dedicated
process (or `mentorhub jobs` from cron); the lease makes several of them safe too.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

import click
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from api import create_app
from api.bookings.jobs import run_jobs
from api.extensions import db
from api.payments.reconcile import reconcile
from api.search.ranking_columns import refresh as refresh_ranking
from api.tables import JobLease, utcnow

logger = logging.getLogger(__name__)

LEASE_NAME = "periodic-jobs"
MIN_LEASE_SECONDS = 5.0


def make_holder() -> str:
    """A name unique to this process (and this scheduler): host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def lease_seconds(interval: float) -> float:
    """How long a lease lasts: three intervals, so a live holder renews it well before it expires."""
    return max(MIN_LEASE_SECONDS, 3 * float(interval))


def acquire_lease(name: str, holder: str, seconds: float, now: datetime | None = None) -> bool:
    """Take (or renew) the lease `name` for `seconds`; True when `holder` holds it afterwards.

    Atomic on both databases: the UPDATE's WHERE is evaluated on the row it writes (PostgreSQL re-checks it
    after waiting for a concurrent writer; SQLite has one writer at a time), so two contenders never both
    see one affected row. A missing row is inserted; of concurrent inserts the primary key lets one win.
    """
    if not name or not holder:
        raise ValueError("a lease needs a name and a holder")
    if seconds <= 0:
        raise ValueError("a lease must last a positive number of seconds")
    now = now or utcnow()
    table = JobLease.__table__
    until = now + timedelta(seconds=seconds)
    with db.engine.begin() as connection:
        taken = connection.execute(
            sa.update(table)
            .where(table.c.name == name, sa.or_(table.c.expires_at < now, table.c.holder == holder))
            .values(holder=holder, expires_at=until,
                    acquired_at=sa.case((table.c.holder == holder, table.c.acquired_at), else_=now))
        ).rowcount
        if taken == 1:
            return True
        if connection.execute(sa.select(table.c.name).where(table.c.name == name)).first() is not None:
            return False
    try:
        with db.engine.begin() as connection:
            connection.execute(sa.insert(table).values(name=name, holder=holder, expires_at=until, acquired_at=now))
        return True
    except IntegrityError:  # another process inserted it first: theirs
        return False


def release_lease(name: str, holder: str, now: datetime | None = None) -> bool:
    """Give the lease up (on shutdown) so another process can take it at once; True if `holder` held it."""
    table = JobLease.__table__
    with db.engine.begin() as connection:
        return connection.execute(
            sa.update(table).where(table.c.name == name, table.c.holder == holder)
            .values(expires_at=now or utcnow())
        ).rowcount == 1


def lease_state(name: str = LEASE_NAME) -> JobLease | None:
    """The lease row (holder, expiry, last run), or None before anyone took it."""
    return db.session.get(JobLease, name)


@dataclass(frozen=True)
class PeriodicJob:
    """One job: a name and a function run inside an app context that returns counts of what it did."""

    name: str
    run: Callable[[], dict]


DEFAULT_JOBS = (
    PeriodicJob("bookings", run_jobs),  # first: completed sessions are then settled by reconcile
    PeriodicJob("payments", reconcile),
    PeriodicJob("ranking", refresh_ranking),
)


def run_due_jobs(holder: str, interval: float, jobs=DEFAULT_JOBS, now: datetime | None = None) -> dict | None:
    """Inside an app context: if `holder` gets the lease, run every job once and return what each did
    (None for a job that failed: logged, rolled back, the others still run); None when another holds it."""
    if not acquire_lease(LEASE_NAME, holder, lease_seconds(interval), now):
        return None
    results: dict[str, dict | None] = {}
    for job in jobs:
        try:
            results[job.name] = job.run()
            db.session.commit()
        except Exception:  # noqa: BLE001  (a failing job is logged; the others and the server go on)
            db.session.rollback()
            logger.exception("periodic job %s failed", job.name)
            results[job.name] = None
    table = JobLease.__table__
    with db.engine.begin() as connection:
        connection.execute(sa.update(table).where(table.c.name == LEASE_NAME, table.c.holder == holder)
                           .values(last_run_at=utcnow()))
    done = {f"{job}.{key}": value for job, counts in results.items() if counts
            for key, value in counts.items() if value}
    logger.log(logging.INFO if done else logging.DEBUG, "periodic jobs ran: %s",
               ", ".join(f"{k}={v}" for k, v in done.items()) or "nothing due")
    return results


class Scheduler:
    """A daemon thread running `run_due_jobs` every `interval` seconds until `stop()`."""

    def __init__(self, app, interval: float, jobs=DEFAULT_JOBS, holder: str | None = None):
        if interval <= 0:
            raise ValueError("the jobs' interval must be positive (0 turns the scheduler off: do not start it)")
        self.app = app
        self.interval = float(interval)
        self.jobs = jobs
        self.holder = holder or make_holder()
        self.runs = 0  # ticks on which this process held the lease and ran the jobs
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "Scheduler":
        self._thread = threading.Thread(target=self._loop, name="mentorhub-jobs", daemon=True)
        self._thread.start()
        return self

    def tick(self) -> dict | None:
        """One attempt: take the lease and run the jobs; any failure is logged, never raised."""
        try:
            with self.app.app_context():
                results = run_due_jobs(self.holder, self.interval, self.jobs)
        except Exception:  # noqa: BLE001  (the database may be down: try again next time)
            logger.exception("periodic jobs: could not run (will retry in %.0fs)", self.interval)
            return None
        if results is not None:
            self.runs += 1
        return results

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self.interval)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop and release the lease, so another process takes over at once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        try:
            with self.app.app_context():
                release_lease(LEASE_NAME, self.holder)
        except Exception:  # noqa: BLE001
            logger.warning("periodic jobs: could not release the lease", exc_info=True)


def start_scheduler(app) -> Scheduler | None:
    """Called by the server entry points (never by create_app): start the jobs' thread, unless
    JOBS_INTERVAL_SECONDS is 0 (a dedicated `mentorhub jobs --loop` runs them)."""
    interval = float(app.config["MENTORHUB_SETTINGS"].jobs_interval_seconds)
    if interval <= 0:
        logger.info("periodic jobs: not run by this server (JOBS_INTERVAL_SECONDS=0)")
        return None
    scheduler = Scheduler(app, interval).start()
    logger.info("periodic jobs: every %.0fs, one server at a time (lease %r, holder %s)",
                interval, LEASE_NAME, scheduler.holder)
    return scheduler


def _summary(results: dict) -> str:
    parts = []
    for job, counts in results.items():
        if counts is None:
            parts.append(f"{job}: FAILED (see the log)")
        else:
            parts.append(f"{job}: " + (", ".join(f"{k} {v}" for k, v in counts.items() if v) or "nothing due"))
    return "; ".join(parts)


@click.command("jobs")
@click.option("--loop", is_flag=True, help="Keep running every --interval seconds (a dedicated jobs process).")
@click.option("--interval", type=click.FloatRange(min=1.0), default=None,
              help="Seconds between runs with --loop (default: JOBS_INTERVAL_SECONDS, or 60 when that is 0).")
def jobs_command(loop: bool, interval: float | None) -> None:
    """Run the periodic jobs (bookings, payment reconciliation, search ranking) once, or with --loop forever."""
    app = create_app()
    interval = interval or float(app.config["MENTORHUB_SETTINGS"].jobs_interval_seconds) or 60.0
    scheduler = Scheduler(app, interval)
    if not loop:
        results = scheduler.tick()
        if results is None:
            with app.app_context():
                lease = lease_state()
            holder = f"{lease.holder} until {lease.expires_at:%H:%M:%S} UTC" if lease else "nobody"
            click.echo(f"Another process runs the periodic jobs now ({holder}); nothing run.")
            return
        click.echo(_summary(results))
        if any(counts is None for counts in results.values()):
            raise SystemExit(1)
        return
    click.echo(f"Running the periodic jobs every {interval:.0f}s (Ctrl-C stops).")
    try:
        while True:
            results = scheduler.tick()
            if results is not None:
                click.echo(f"{utcnow():%Y-%m-%d %H:%M:%S} UTC  {_summary(results)}")
            scheduler._stop.wait(interval)
    except KeyboardInterrupt:
        pass
    finally:
        scheduler.stop()
