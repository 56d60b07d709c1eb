"""`mentorhub bench booking`: booking throughput and the same-slot conflict through a real HTTP server.

A scratch database (a SQLite file, or a new PostgreSQL database that is dropped afterwards) is migrated and
seeded; the app is served by gunicorn in its own processes, as deployed (PostgreSQL: SERVER_WORKERS gthread
workers; SQLite, whose writers serialise on one file: one worker with threads); clients are threads of the
bench process, each a keep-alive HTTP connection (http.client) logged in as its own learner. Phase 1: `--clients` clients request distinct free slots (no conflicts)
as fast as they can. Phase 2: `--conflict-clients` clients request the same slot at once; exactly one must
win. Double bookings are then counted in the database itself.
"""
from __future__ import annotations

import http.client
import json
import logging
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import time as clock_time, timedelta
from pathlib import Path

import click
import sqlalchemy as sa
from flask_login.utils import _create_identifier
from flask_migrate import upgrade

from api import create_app
from api.benchmarks.common import free_port, tree_cpu_seconds
from api.bookings.policy import policy_for
from api.bookings.slots import free_slots
from api.extensions import db
from api.settings import Settings
from api.tables import AvailabilityRule, MentorProfile, MentorStatus, Role, User, UserRole, utcnow

USER_AGENT = "mentorhub-bench/1.0"
SERVER_WORKERS = 4  # PostgreSQL: gunicorn gthread worker processes (2 cores; requests also wait on the database)
SERVER_THREADS = 4

SERVER_CODE = """
import logging, sys
from pathlib import Path
from gunicorn.app.base import BaseApplication
from api import create_app
from api.extensions import db
from api.settings import Settings
var_dir = Path(sys.argv[2])
settings = Settings(_env_file=None, profile="development", var_dir=var_dir, database_url=sys.argv[3],
                    secret_key=sys.argv[4], log_level="WARNING", socketio_async_mode="threading", redis_url="",
                    mlflow_tracking_uri="sqlite:///" + str(var_dir / "mlflow.db"))
app = create_app(settings=settings)
logging.getLogger("mentorhub.request").setLevel(logging.WARNING)

def post_fork(server, worker):
    with app.app_context():
        db.engine.dispose(close=False)  # no connection crosses a fork

class Server(BaseApplication):
    def load_config(self):
        for key, value in dict(bind="127.0.0.1:" + sys.argv[1], workers=int(sys.argv[5]), threads=int(sys.argv[6]),
                               worker_class="gthread", preload_app=True, backlog=2048, keepalive=30,
                               loglevel="warning", accesslog=None, post_fork=post_fork, timeout=120).items():
            self.cfg.set(key, value)

    def load(self):
        return app

Server().run()
"""
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
    settings = Settings(_env_file=None, profile="development", var_dir=workdir, database_url=database_url,
                        secret_key=secrets.token_hex(16), log_level="WARNING", socketio_async_mode="threading",
                        redis_url="", mlflow_tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}")
    app = create_app(settings=settings)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with app.app_context():
        upgrade(revision="heads")
        plan = _seed(app, clients, total, conflict_clients)

    workers, threads = (SERVER_WORKERS, SERVER_THREADS) if backend == "postgres" else (1, 16)
    server, base = _start_server(workdir, database_url, settings.secret_key, workers, threads)
    try:
        load_before = os.getloadavg()[0]
        cpu_before = time.process_time()
        server_before = tree_cpu_seconds(server.pid)
        throughput = _throughput(app, base, plan)
        client_cpu = time.process_time() - cpu_before  # the 16 client threads of this process
        server_cpu = tree_cpu_seconds(server.pid) - server_before  # gunicorn master and workers
        cpu = client_cpu + server_cpu
        throughput["server_workers"] = f"{workers} x {threads} threads"
        throughput["process_cpu_s"] = round(cpu, 2)
        throughput["server_cpu_ms_per_booking"] = round(server_cpu * 1000 / throughput["successes"], 2) if throughput["successes"] else None
        throughput["client_cpu_ms_per_booking"] = round(client_cpu * 1000 / throughput["successes"], 2) if throughput["successes"] else None
        throughput["bookings_per_cpu_s"] = round(throughput["successes"] / cpu, 1) if cpu else None
        throughput["load_average_1m"] = round(load_before, 2)
        throughput["cpus"] = os.cpu_count()
        conflict = _conflict(app, base, plan)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    with app.app_context():
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




def _start_server(workdir: Path, database_url: str, secret_key: str, workers: int, threads: int):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MENTORHUB_PROFILE", "VAR_DIR")}
    process = subprocess.Popen([sys.executable, "-c", SERVER_CODE, str(port), str(workdir), database_url, secret_key,
                                str(workers), str(threads)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise click.ClickException("the bench server died: " + process.stderr.read().decode()[-2000:])
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                connection.close()
                return process, ("127.0.0.1", port)
        except OSError:
            time.sleep(0.1)
    process.terminate()
    raise click.ClickException("the bench server did not start")




class _Client:
    """One learner's keep-alive HTTP connection with their session cookie and CSRF token."""

    def __init__(self, base: tuple[str, int], cookie: str):
        self.base = base
        self.connection = http.client.HTTPConnection(*base, timeout=120)
        self.headers = {"User-Agent": USER_AGENT, "Cookie": f"session={cookie}"}
        status, body = self.call("GET", "/api/v1/csrf-token")
        self.headers["X-CSRFToken"] = json.loads(body)["csrf_token"]
        self.headers["Content-Type"] = "application/json"

    def call(self, method: str, path: str, payload: dict | None = None) -> tuple[int, bytes]:
        body = json.dumps(payload).encode() if payload is not None else None
        self.connection.request(method, path, body=body, headers=self.headers)
        response = self.connection.getresponse()
        data = response.read()
        cookie = response.getheader("Set-Cookie") or ""
        if cookie.startswith("session="):
            self.headers["Cookie"] = cookie.split(";", 1)[0]
        if response.will_close:  # the server ended keep-alive: the next call opens a new connection
            self.connection.close()
        return response.status, data


def _session(app, base, user_id: int) -> _Client:
    with app.app_context(), app.test_request_context(headers={"User-Agent": USER_AGENT},
                                                     environ_base={"REMOTE_ADDR": "127.0.0.1"}):
        data = {"_user_id": db.session.get(User, user_id).get_id(), "_fresh": True, "_id": _create_identifier()}
        cookie = app.session_interface.get_signing_serializer(app).dumps(data)
        db.session.remove()
    return _Client(base, cookie)


def _throughput(app, base: tuple[str, int], plan: dict) -> dict:
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
            status, _body = http.call("POST", "/api/v1/bookings", {"mentor_id": mentor_id, "starts_at": start})
            mine.append(time.perf_counter() - began)
            codes[status] = codes.get(status, 0) + 1
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


def _conflict(app, base: tuple[str, int], plan: dict) -> dict:
    mentor_id, start = plan["contested"]
    sessions = [_session(app, base, learner_id) for learner_id in plan["conflict_learners"]]
    codes: list[int] = []
    lock = threading.Lock()
    gate = threading.Barrier(len(sessions))

    def client(http):
        gate.wait()
        try:
            code, _body = http.call("POST", "/api/v1/bookings", {"mentor_id": mentor_id, "starts_at": start})
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
