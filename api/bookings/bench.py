"""`mentorhub bench booking`: booking throughput and the same-slot conflict through a real HTTP server.

A scratch database (a SQLite file, or a new PostgreSQL database that is dropped afterwards) is migrated and
seeded; the app is served in-process by werkzeug's threaded server; clients are threads using `requests`,
each logged in as its own learner. Phase 1: `--clients` clients request distinct free slots (no conflicts)
as fast as they can. Phase 2: `--conflict-clients` clients request the same slot at once; exactly one must
win. Double bookings are then counted in the database itself.
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import statistics
import tempfile
import threading
import time
from datetime import time as clock_time
from datetime import timedelta
from pathlib import Path

import click

USER_AGENT = "mentorhub-bench/1.0"
DOUBLE_BOOKINGS_SQL = """
SELECT count(*) FROM bookings a JOIN bookings b
  ON a.mentor_id = b.mentor_id AND a.id < b.id AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at
WHERE a.status IN ('requested', 'accepted') AND b.status IN ('requested', 'accepted')
"""


@click.command("booking")
@click.option("--db", "backend", type=click.Choice(["sqlite", "postgres"]), default="sqlite", show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the figures to this JSON file.")
@click.option("--clients", default=16, show_default=True, type=click.IntRange(1, 256))
@click.option("--requests", "total", default=3200, show_default=True, type=click.IntRange(1),
              help="Non-conflicting booking requests in the throughput phase.")
@click.option("--conflict-clients", default=200, show_default=True, type=click.IntRange(2, 1000))
@click.option("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres", show_default=True,
              help="Server where the scratch database is created (and dropped).")
@click.option("--keep", is_flag=True, help="Keep the scratch database.")
def booking(backend: str, json_path: Path | None, clients: int, total: int, conflict_clients: int,
            postgres_url: str, keep: bool) -> None:
    """Booking throughput (16 clients) and the 200-client same-slot conflict, on SQLite or PostgreSQL."""
    workdir = Path(tempfile.mkdtemp(prefix="mentorhub-bench-booking-"))
    database_url, drop = _scratch_database(backend, postgres_url, workdir)
    try:
        figures = _run(backend, database_url, workdir, clients, total, conflict_clients)
    finally:
        if not keep:
            drop()
            shutil.rmtree(workdir, ignore_errors=True)
    for key, value in figures.items():
        click.echo(f"{key:>22}: {value}")
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(figures, indent=2) + "\n")
    if figures["conflict_successes"] != 1 or figures["double_bookings"] != 0:
        raise click.ClickException("double booking detected")


def _scratch_database(backend: str, server_url: str, workdir: Path):
    if backend == "sqlite":
        return "", lambda: None
    import sqlalchemy as sa

    name = f"mentorhub_bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(server_url.replace("postgresql://", "postgresql+psycopg2://", 1), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return f"{server_url.rsplit('/', 1)[0]}/{name}", drop


def _run(backend: str, database_url: str, workdir: Path, clients: int, total: int, conflict_clients: int) -> dict:
    from flask_migrate import upgrade
    from werkzeug.serving import ThreadedWSGIServer

    from api import create_app
    from api.extensions import db
    from api.settings import Settings

    settings = Settings(_env_file=None, profile="development", var_dir=workdir, database_url=database_url,
                        secret_key=secrets.token_hex(16), log_level="WARNING", socketio_async_mode="threading",
                        redis_url="", mlflow_tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}")
    app = create_app(settings=settings)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with app.app_context():
        upgrade(revision="heads")
        plan = _seed(app, clients, total, conflict_clients)

    class Server(ThreadedWSGIServer):
        request_queue_size = 2048  # 200 clients connect at once

    server = Server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        load_before = os.getloadavg()[0]
        cpu_before = time.process_time()
        throughput = _throughput(app, base, plan)
        cpu = time.process_time() - cpu_before  # server and clients: every thread of this process
        throughput["process_cpu_s"] = round(cpu, 2)
        throughput["bookings_per_cpu_s"] = round(throughput["successes"] / cpu, 1) if cpu else None
        throughput["load_average_1m"] = round(load_before, 2)
        throughput["cpus"] = os.cpu_count()
        conflict = _conflict(app, base, plan)
    finally:
        server.shutdown()
        thread.join(timeout=10)
    with app.app_context():
        import sqlalchemy as sa

        double = db.session.execute(sa.text(DOUBLE_BOOKINGS_SQL)).scalar()
        stored = db.session.execute(sa.text("SELECT count(*) FROM bookings")).scalar()
        db.session.remove()
        db.engine.dispose()
    return {
        "db": backend,
        "clients": clients,
        "requests": total,
        **throughput,
        "conflict_clients": conflict_clients,
        **conflict,
        "bookings_in_db": stored,
        "double_bookings": double,
    }


def _seed(app, clients: int, total: int, conflict_clients: int) -> dict:
    """One mentor per throughput client (each learner books one mentor's slots in order), one contested mentor."""
    from api.bookings.policy import policy_for
    from api.bookings.slots import free_slots
    from api.extensions import db
    from api.tables import AvailabilityRule, MentorProfile, MentorStatus, Role, User, UserRole, utcnow

    def person(email: str, role: Role) -> User:
        user = User(email=email, full_name=email.split("@")[0], timezone="UTC", email_verified_at=utcnow(),
                    phone_verified_at=utcnow())
        user.roles = [UserRole(role=role)]
        return user

    mentors = [person(f"mentor{i}@bench.local", Role.MENTOR) for i in range(clients + 1)]
    learners = [person(f"learner{i}@bench.local", Role.LEARNER) for i in range(max(clients, conflict_clients))]
    db.session.add_all(mentors + learners)
    db.session.flush()
    for mentor in mentors:
        profile = MentorProfile(user_id=mentor.id, price_minor=4000, currency="USD", session_minutes=30,
                                timezone="UTC", status=MentorStatus.APPROVED)
        profile.availability = [AvailabilityRule(weekday=d, start_time=clock_time(0, 0), end_time=clock_time(23, 30),
                                                 timezone="UTC") for d in range(7)]
        db.session.add(profile)
    db.session.commit()
    per_client = -(-total // clients)
    now = utcnow()
    profile = db.session.get(MentorProfile, mentors[0].id)
    policy = policy_for(profile)
    slots = free_slots(profile.availability, [], "UTC", policy, now + timedelta(minutes=5))
    if len(slots) < per_client + 1:
        raise click.ClickException(f"only {len(slots)} slots per mentor; lower --requests")
    return {
        "work": [(mentors[i].id, learners[i].id, [s.start.isoformat() for s in slots[:per_client]][: total - i * per_client])
                 for i in range(clients)],
        "contested": (mentors[-1].id, slots[0].start.isoformat()),
        "conflict_learners": [learner.id for learner in learners[:conflict_clients]],
    }


def _session(app, base: str, user_id: int):
    import requests
    from flask_login.utils import _create_identifier

    from api.extensions import db
    from api.tables import User

    with app.app_context(), app.test_request_context(headers={"User-Agent": USER_AGENT},
                                                     environ_base={"REMOTE_ADDR": "127.0.0.1"}):
        data = {"_user_id": db.session.get(User, user_id).get_id(), "_fresh": True, "_id": _create_identifier()}
        cookie = app.session_interface.get_signing_serializer(app).dumps(data)
        db.session.remove()
    http = requests.Session()
    http.headers["User-Agent"] = USER_AGENT
    http.cookies.set("session", cookie, domain="127.0.0.1", path="/")
    http.headers["X-CSRFToken"] = http.get(f"{base}/api/v1/csrf-token", timeout=30).json()["csrf_token"]
    return http


def _throughput(app, base: str, plan: dict) -> dict:
    sessions = [(_session(app, base, learner_id), mentor_id, starts) for mentor_id, learner_id, starts in plan["work"]]
    latencies: list[float] = []
    outcomes: dict[int, int] = {}
    lock = threading.Lock()
    gate = threading.Barrier(len(sessions) + 1)

    def client(http, mentor_id, starts):
        mine, codes = [], {}
        gate.wait()
        for start in starts:
            began = time.perf_counter()
            response = http.post(f"{base}/api/v1/bookings", json={"mentor_id": mentor_id, "starts_at": start},
                                 timeout=60)
            mine.append(time.perf_counter() - began)
            codes[response.status_code] = codes.get(response.status_code, 0) + 1
        with lock:
            latencies.extend(mine)
            for code, count in codes.items():
                outcomes[code] = outcomes.get(code, 0) + count

    threads = [threading.Thread(target=client, args=item) for item in sessions]
    for thread in threads:
        thread.start()
    gate.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    successes = outcomes.get(201, 0)
    latencies.sort()
    return {
        "bookings_per_s": round(successes / elapsed, 1),
        "successes": successes,
        "failures": sum(v for k, v in outcomes.items() if k != 201),
        "status_codes": {str(k): v for k, v in sorted(outcomes.items())},
        "seconds": round(elapsed, 2),
        "latency_p50_ms": round(statistics.median(latencies) * 1000, 1),
        "latency_p95_ms": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 1),
    }


def _conflict(app, base: str, plan: dict) -> dict:
    mentor_id, start = plan["contested"]
    sessions = [_session(app, base, learner_id) for learner_id in plan["conflict_learners"]]
    codes: list[int] = []
    lock = threading.Lock()
    gate = threading.Barrier(len(sessions))

    def client(http):
        gate.wait()
        try:
            code = http.post(f"{base}/api/v1/bookings", json={"mentor_id": mentor_id, "starts_at": start},
                             timeout=120).status_code
        except Exception:  # a refused connection counts as a failure, not a crash of the bench
            code = 0
        with lock:
            codes.append(code)

    threads = [threading.Thread(target=client, args=(http,)) for http in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "conflict_successes": codes.count(201),
        "conflict_409": codes.count(409),
        "conflict_other": len(codes) - codes.count(201) - codes.count(409),
    }
