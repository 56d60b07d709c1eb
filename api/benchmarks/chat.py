"""`mentorhub bench chat`: real eventlet workers on the Redis queue, python-socketio clients, delivery and latency.

It makes a scratch database (PostgreSQL when reachable, else SQLite) with one user per client,
signs each client a session cookie with the servers' secret (a bench-only key), starts the
workers as `python -m api.server`, and runs the clients in a few processes (`api.benchmarks.chat_clients`):
they connect to the workers in turn, join one room and send messages at the given rate through
the same `send` event the web client uses. Every client records every message it receives (each
message of each `messages` batch); a message sent at t0 and received at t1 counts (t1 - t0)
towards the latency. Nothing here is imported by the web app.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import click
import redis
import sqlalchemy as sa
from flask import session
from flask_login.utils import _create_identifier
from flask_migrate import upgrade

from api import create_app
from api.benchmarks.chat_clients import ROOM, Share, Tally, client_process
from api.benchmarks.common import free_port
from api.benchmarks.harness import HarnessSettings
from api.chat.rooms import ensure_public_rooms
from api.extensions import db
from api.settings import PROJECT_ROOT, Settings
from api.tables import Role, User, UserRole, utcnow

USER_AGENT = "mentorhub-chat-bench/1"


def session_cookie_for(app, user, user_agent: str = USER_AGENT, remote_addr: str = "127.0.0.1") -> str:
    """A signed Flask session logging `user` in, valid for requests from that address and user agent."""
    environ = {"REMOTE_ADDR": remote_addr, "HTTP_USER_AGENT": user_agent}
    with app.test_request_context(environ_base=environ):
        identifier = _create_identifier()
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
        session["_id"] = identifier
        serializer = app.session_interface.get_signing_serializer(app)
        return serializer.dumps(dict(session))


@contextmanager
def scratch_database(kind: str, postgres_url: str):
    """A migrated scratch database: yields its DATABASE_URL ("" for SQLite in the var dir); dropped afterwards."""
    if kind == "sqlite":
        yield ""
        return
    admin = sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg2://", 1),
                             isolation_level="AUTOCOMMIT")
    name = f"mentorhub_chat_bench_{os.getpid()}_{secrets.token_hex(3)}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield postgres_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def prepare(settings: Settings, users: int, *, email_prefix: str = "bench") -> tuple[list[str], int]:
    """Migrate, create `users` verified users and the public rooms; the session cookies and the room id."""
    app = create_app(settings=settings)
    with app.app_context():
        upgrade()
        now = utcnow()
        people = [User(email=f"{email_prefix}{n}@bench.mentorhub.example", full_name=f"Bench User {n}",
                       email_verified_at=now, phone_verified_at=now, roles=[UserRole(role=Role.LEARNER)])
                  for n in range(users)]
        db.session.add_all(people)
        db.session.commit()
        room_id = next(r.id for r in ensure_public_rooms() if r.slug == ROOM)
        cookies = [session_cookie_for(app, user) for user in people]
        db.session.remove()
        db.engine.dispose()
    return cookies, room_id


@dataclass
class Workers:
    processes: list[subprocess.Popen]
    urls: list[str]
    logs: list[Path] = field(default_factory=list)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def start_workers(count: int, settings: Settings, var_dir: Path, extra_env: dict | None = None,
                  timeout: float = 60.0, ports: list[int] | None = None) -> Workers:
    """`python -m api.server` `count` times on `ports` (free ones by default) sharing the database and Redis;
    waits for /healthz."""
    ports = list(ports[:count]) if ports else [free_port() for _ in range(count)]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MENTORHUB_", "DATABASE_URL", "REDIS_URL"))}
    env.update({
        "MENTORHUB_PROFILE": "testing",
        "SECRET_KEY": settings.secret_key,
        "VAR_DIR": str(var_dir),
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "SOCKETIO_ASYNC_MODE": "eventlet",
        "CORS_ALLOWED_ORIGINS": json.dumps(urls),
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra_env or {})
    processes, logs = [], []
    for port in ports:
        log = var_dir / f"worker-{port}.log"
        logs.append(log)
        processes.append(subprocess.Popen([sys.executable, "-m", "api.server", "--port", str(port)],
                                          cwd=str(PROJECT_ROOT), env=env, stdout=log.open("wb"),
                                          stderr=subprocess.STDOUT))
    workers = Workers(processes, urls, logs)
    deadline = time.monotonic() + timeout
    try:
        for url, process in zip(urls, processes):
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"worker {url} exited: {logs[processes.index(process)].read_text()[-2000:]}")
                try:
                    with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                        if response.status == 200:
                            break
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"worker {url} did not answer /healthz in {timeout:.0f}s")
                time.sleep(0.1)
    except BaseException:
        workers.stop()
        raise
    return workers


# -- the load --------------------------------------------------------------------------------------


def run_clients(urls: list[str], cookies: list[str], rate: float, seconds: float, drain: float,
                processes: int) -> tuple[list[Tally], int]:
    """The clients in `processes` processes (contiguous shares); their tallies and the number of messages sent."""
    ctx = multiprocessing.get_context("spawn")
    total = int(rate * seconds)
    processes = max(1, min(processes, len(cookies)))
    bounds = [round(k * len(cookies) / processes) for k in range(processes + 1)]
    children = []
    for number in range(processes):
        parent_end, child_end = ctx.Pipe()
        share = Share(number, processes, urls, cookies[bounds[number]:bounds[number + 1]], bounds[number], rate,
                      total, USER_AGENT)
        process = ctx.Process(target=client_process, args=(share, child_end), daemon=True)
        process.start()
        child_end.close()
        children.append((process, parent_end))
    try:
        started = time.time()
        for process, conn in children:
            _expect(conn, "ready", timeout=300)
        click.echo(f"  {len(cookies)} clients in {processes} processes connected and joined in "
                   f"{time.time() - started:.1f}s (and the presence notices of the joins settled)", err=True)
        begin = time.time() + 0.5
        deadline = begin + seconds + drain
        for _, conn in children:
            conn.send((begin, deadline))
        tallies = [_expect(conn, "done", timeout=deadline - time.time() + 120) for _, conn in children]
    finally:
        for process, conn in children:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
            conn.close()
    return tallies, total


def _expect(conn, kind: str, timeout: float):
    if not conn.poll(max(0.0, timeout)):
        raise click.ClickException(f"a client process did not report {kind!r} in {timeout:.0f}s")
    got, value = conn.recv()
    if got != kind:
        raise click.ClickException(f"a client process failed: {value}")
    return value


def _percentile(ordered, fraction: float) -> float | None:
    if not ordered:
        return None
    index = min(len(ordered) - 1, max(0, int(round(fraction * (len(ordered) - 1)))))
    return round(ordered[index], 1)


def run_chat_bench(clients: int, workers: int, rate: float, seconds: float, *, database: str = "auto",
                   redis_url: str = "", drain: float = 10.0, client_processes: int = 2) -> dict:
    """Run the benchmark and return its figures."""
    base, harness = Settings(_env_file=None), HarnessSettings(_env_file=None)
    redis_url = redis_url or base.redis_url or harness.test_redis_url
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        raise click.ClickException(f"Redis is needed for the message queue ({redis_url}): {error}") from None
    if database == "auto":
        database = "postgresql" if _postgres_up(harness.test_postgres_url) else "sqlite"
    var_dir = Path(tempfile.mkdtemp(prefix="mentorhub-chat-bench-"))
    try:
        with scratch_database(database, harness.test_postgres_url) as database_url:
            settings = Settings(_env_file=None, profile="testing", secret_key=secrets.token_urlsafe(32),
                                var_dir=var_dir, database_url=database_url, redis_url=redis_url,
                                socketio_async_mode="threading")
            cookies, _ = prepare(settings, clients)
            started = start_workers(workers, settings, var_dir, extra_env={
                "CHAT_FLOOD_MESSAGES": "1000000",  # the bench measures delivery, not flood control
            })
            try:
                tallies, sent = run_clients(started.urls, cookies, rate, seconds, drain, client_processes)
            finally:
                started.stop()
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)
    expected = sent * clients
    delivered = sum(t.received for t in tallies)
    latency = sorted(value for t in tallies for value in t.latency_ms)
    ack_latency = sorted(value for t in tallies for value in t.ack_ms)
    send_errors: dict[str, int] = {}
    for tally in tallies:
        for error, count in tally.send_errors.items():
            send_errors[error] = send_errors.get(error, 0) + count
    figures = {
        "clients": clients,
        "workers": workers,
        "rate": rate,
        "seconds": seconds,
        "database": database,
        "sent": sent,
        "stored": sum(t.acked_ok for t in tallies),
        "send_errors": send_errors,
        "delivered_expected": expected,
        "delivered": delivered,
        "lost": expected - delivered,
        "p50_ms": _percentile(latency, 0.5),
        "p99_ms": _percentile(latency, 0.99),
        "max_ms": _percentile(latency, 1.0),
        "stored_p50_ms": _percentile(ack_latency, 0.5),
        "stored_p99_ms": _percentile(ack_latency, 0.99),
        "sending_seconds": round(max(t.sending_seconds for t in tallies), 1),
        "client_processes": len(tallies),
        "client_disconnects": sum(t.disconnects for t in tallies),
    }
    return figures


def _postgres_up(url: str) -> bool:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
    try:
        with engine.connect():
            return True
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


@click.command("chat")
@click.option("--clients", default=500, show_default=True, type=click.IntRange(2))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1))
@click.option("--rate", default=200.0, show_default=True, type=click.FloatRange(0.1), help="messages per second, in all")
@click.option("--seconds", default=30.0, show_default=True, type=click.FloatRange(1))
@click.option("--database", type=click.Choice(["auto", "postgresql", "sqlite"]), default="auto", show_default=True,
              help="the shared scratch database of the workers")
@click.option("--redis-url", default="", help="the message queue (default: REDIS_URL, else TEST_REDIS_URL)")
@click.option("--drain", default=10.0, show_default=True, type=click.FloatRange(0),
              help="seconds to wait for late deliveries after the last send")
@click.option("--client-processes", default=2, show_default=True, type=click.IntRange(1),
              help="processes the clients are spread over (one asyncio loop each)")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path))
def chat(clients: int, workers: int, rate: float, seconds: float, database: str, redis_url: str, drain: float,
         client_processes: int, json_path: Path | None) -> None:
    """Real eventlet workers on the Redis queue; CLIENTS socket clients in one room; delivery and latency."""
    click.echo(f"chat bench: {clients} clients, {workers} workers, {rate:g} msg/s for {seconds:g}s", err=True)
    figures = run_chat_bench(clients, workers, rate, seconds, database=database, redis_url=redis_url, drain=drain,
                             client_processes=client_processes)
    click.echo(f"sent {figures['sent']} messages, delivered {figures['delivered']} of {figures['delivered_expected']} "
               f"(lost {figures['lost']}); latency p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms")
    click.echo(json.dumps(figures))
    if json_path:
        json_path.write_text(json.dumps(figures, indent=2) + "\n")
