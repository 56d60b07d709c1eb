"""The periodic jobs run inside the served process: one runner at a time (a database lease), on a schedule."""
from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from api.extensions import db
from api.scheduler import (LEASE_NAME, PeriodicJob, Scheduler, acquire_lease, jobs_command, lease_state,
                           release_lease, run_due_jobs, start_scheduler)
from api.tables import Booking, BookingStatus, MentorProfile, MentorStatus, User
from tests.conftest import eventually

pytestmark = pytest.mark.db

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)  # a Monday


def _people(app) -> tuple[int, int]:
    with app.app_context():
        mentor = User(email="mara@example.com", full_name="Mara Mentor")
        learner = User(email="leo@example.com", full_name="Leo Learner")
        db.session.add_all([mentor, learner])
        db.session.flush()
        db.session.add(MentorProfile(user_id=mentor.id, price_minor=5000, currency="EUR",
                                     status=MentorStatus.APPROVED))
        db.session.commit()
        return mentor.id, learner.id


def _booking(app, mentor_id, learner_id, starts_at, status, **fields) -> int:
    with app.app_context():
        booking = Booking(mentor_id=mentor_id, learner_id=learner_id, starts_at=starts_at,
                          ends_at=starts_at + timedelta(hours=1), status=status, price_minor=5000, currency="EUR",
                          **fields)
        db.session.add(booking)
        db.session.commit()
        return booking.id


def _status(app, booking_id) -> BookingStatus:
    with app.app_context():
        return db.session.get(Booking, booking_id).status


def test_one_holder_among_concurrent_contenders(app):
    contenders = 8
    barrier = threading.Barrier(contenders)
    won, errors = [], []

    def contend(i: int) -> None:
        with app.app_context():
            barrier.wait()
            try:
                if acquire_lease(LEASE_NAME, f"worker-{i}", 60):
                    won.append(i)
            except Exception as error:  # noqa: BLE001
                errors.append(error)

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert len(won) == 1
    with app.app_context():
        assert lease_state().holder == f"worker-{won[0]}"
        # the holder renews it; nobody else gets it while it lasts
        assert acquire_lease(LEASE_NAME, f"worker-{won[0]}", 60)
        assert not acquire_lease(LEASE_NAME, "latecomer", 60)


def test_an_expired_lease_is_taken_over_and_a_released_one_at_once(app):
    with app.app_context():
        assert acquire_lease(LEASE_NAME, "first", 30, now=NOW)
        assert not acquire_lease(LEASE_NAME, "second", 30, now=NOW + timedelta(seconds=29))
        assert acquire_lease(LEASE_NAME, "second", 30, now=NOW + timedelta(seconds=31))  # "first" died
        assert lease_state().holder == "second"
        assert not acquire_lease(LEASE_NAME, "first", 30, now=NOW + timedelta(seconds=40))  # it is back: too late
        assert not release_lease(LEASE_NAME, "first")
        assert release_lease(LEASE_NAME, "second", now=NOW + timedelta(seconds=41))
        assert acquire_lease(LEASE_NAME, "third", 30, now=NOW + timedelta(seconds=42))


def test_a_lease_needs_a_name_a_holder_and_a_duration(app):
    with app.app_context():
        with pytest.raises(ValueError):
            acquire_lease(LEASE_NAME, "", 30)
        with pytest.raises(ValueError):
            acquire_lease(LEASE_NAME, "me", 0)


def test_a_scheduled_run_completes_past_sessions_and_expires_unanswered_requests(fixed_clock, app):
    fixed_clock.set(NOW)
    app.config["PAYMENTS_REQUIRED"] = False
    mentor_id, learner_id = _people(app)
    past = _booking(app, mentor_id, learner_id, NOW - timedelta(days=3), BookingStatus.ACCEPTED)
    unanswered = _booking(app, mentor_id, learner_id, NOW + timedelta(days=2), BookingStatus.REQUESTED,
                          respond_by=NOW - timedelta(hours=1))
    future = _booking(app, mentor_id, learner_id, NOW + timedelta(days=5), BookingStatus.ACCEPTED)

    scheduler = Scheduler(app, interval=60, holder="this-server")
    results = scheduler.tick()

    assert results["bookings"]["completed"] == 1 and results["bookings"]["expired"] == 1
    assert _status(app, past) == BookingStatus.COMPLETED
    assert _status(app, unanswered) == BookingStatus.EXPIRED
    assert _status(app, future) == BookingStatus.ACCEPTED
    with app.app_context():
        assert lease_state().last_run_at is not None
    # another server's scheduler finds the lease held and runs nothing
    assert Scheduler(app, interval=60, holder="other-server").tick() is None


def test_a_failing_job_is_logged_and_the_others_still_run(app, caplog):
    def broken() -> dict:
        raise RuntimeError("provider down")

    ran = []
    jobs = (PeriodicJob("broken", broken), PeriodicJob("fine", lambda: ran.append(1) or {"done": 1}))
    with app.app_context():
        results = run_due_jobs("me", 60, jobs)
    assert results == {"broken": None, "fine": {"done": 1}}
    assert ran == [1]
    assert "periodic job broken failed" in caplog.text


def test_the_scheduler_survives_a_database_outage(app, caplog, monkeypatch):
    def unreachable(*args, **kwargs):
        raise sa.exc.OperationalError("UPDATE job_leases ...", {}, ConnectionError("connection refused"))

    monkeypatch.setattr("api.scheduler.acquire_lease", unreachable)
    scheduler = Scheduler(app, interval=60, holder="me")
    assert scheduler.tick() is None
    assert "could not run" in caplog.text


def test_start_scheduler_runs_in_the_background_until_stopped(fixed_clock, app):
    fixed_clock.set(NOW)
    mentor_id, learner_id = _people(app)
    past = _booking(app, mentor_id, learner_id, NOW - timedelta(days=3), BookingStatus.ACCEPTED)
    app.config["MENTORHUB_SETTINGS"] = app.config["MENTORHUB_SETTINGS"].model_copy(
        update={"jobs_interval_seconds": 0.2})
    scheduler = start_scheduler(app)
    try:
        eventually(lambda: _status(app, past) == BookingStatus.COMPLETED)
        eventually(lambda: scheduler.runs >= 2)  # it keeps going
    finally:
        scheduler.stop()
    with app.app_context():
        assert lease_state().expires_at <= datetime.now(timezone.utc)  # released: another server takes over


def test_an_interval_of_zero_leaves_the_jobs_to_a_dedicated_process(app):
    app.config["MENTORHUB_SETTINGS"] = app.config["MENTORHUB_SETTINGS"].model_copy(
        update={"jobs_interval_seconds": 0})
    assert start_scheduler(app) is None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
@pytest.mark.parametrize("db_backend", ["sqlite"])
def test_the_served_process_runs_the_jobs(app, settings, tmp_path):
    """`mentorhub serve`'s entry point (api.server, eventlet) completes a session that ended days ago."""
    mentor_id, learner_id = _people(app)
    ended = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=3)
    past = _booking(app, mentor_id, learner_id, ended, BookingStatus.ACCEPTED)
    with app.app_context():
        db.engine.dispose()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(VAR_DIR=str(settings.var_dir), MENTORHUB_PROFILE="testing", JOBS_INTERVAL_SECONDS="1",
               PAYMENTS_REQUIRED="false", PYTHONPATH=str(ROOT), SECRET_KEY="test-secret")
    server = subprocess.Popen([sys.executable, "-m", "api.server", "--port", str(_free_port())], cwd=tmp_path,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        eventually(lambda: server.poll() is not None or _status(app, past) == BookingStatus.COMPLETED, timeout=90)
        assert server.poll() is None, server.stderr.read().decode()[-3000:]
    finally:
        server.terminate()
        server.wait(10)


def test_gunicorn_workers_start_the_scheduler(app, monkeypatch):
    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "deploy" / "gunicorn.conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    started = []
    monkeypatch.setattr("api.scheduler.start_scheduler", lambda wsgi_app: started.append(wsgi_app) or "scheduler")

    class Worker:
        wsgi = app

    worker = Worker()
    conf.post_worker_init(worker)
    assert started == [app] and worker.mentorhub_scheduler == "scheduler"


def test_jobs_command_runs_them_once(app, monkeypatch, settings):
    from click.testing import CliRunner

    monkeypatch.setattr("api.scheduler.create_app", lambda: app)
    result = CliRunner().invoke(jobs_command, [])
    assert result.exit_code == 0, result.output
    assert "bookings: nothing due" in result.output
    with app.app_context():
        assert acquire_lease(LEASE_NAME, "someone-else", 60, now=datetime.now(timezone.utc) + timedelta(hours=1))
    result = CliRunner().invoke(jobs_command, [])
    assert result.exit_code == 0 and "Another process runs the periodic jobs" in result.output
