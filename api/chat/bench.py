"""`mentorhub bench chat`: real eventlet workers on the Redis queue, python-socketio clients, delivery and latency.

It makes a scratch database (PostgreSQL when reachable, else SQLite) with one user per client,
signs each client a session cookie with the servers' secret (a bench-only key), starts the
workers as `python -m api.server`, connects the clients to the workers in turn, joins them all
to one room and sends messages at the given rate through the same `send` event the web client
uses. Every client records every message it receives; a message sent at t0 and received at t1
counts (t1 - t0) towards the latency. Nothing here is imported by the web app.
"""
from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from array import array
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import click

from api.settings import PROJECT_ROOT, Settings

ROOM = "general"
USER_AGENT = "mentorhub-chat-bench/1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def session_cookie_for(app, user, user_agent: str = USER_AGENT, remote_addr: str = "127.0.0.1") -> str:
    """A signed Flask session logging `user` in, valid for requests from that address and user agent."""
    from flask import session
    from flask_login.utils import _create_identifier

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
    import sqlalchemy as sa

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
    from flask_migrate import upgrade

    from api import create_app
    from api.chat.rooms import ensure_public_rooms
    from api.extensions import db
    from api.tables import Role, User, UserRole, utcnow

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
                  timeout: float = 60.0) -> Workers:
    """`python -m api.server` `count` times on free ports sharing the database and Redis; waits for /healthz."""
    ports = [free_port() for _ in range(count)]
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


class Measurement:
    def __init__(self, clients: int) -> None:
        self.sent_at: dict[int, float] = {}
        self.acked_ok = 0
        self.send_errors: dict[str, int] = {}
        self.received = [0] * clients
        self.latency_ms = array("d")
        self.disconnects = 0  # clients dropped before the end (ping timeouts of overloaded processes)
        self.finished = False
        self.seen: list[set[int]] = [set() for _ in range(clients)]


async def _run_load(urls: list[str], cookies: list[str], rate: float, seconds: float, drain: float,
                    connect_concurrency: int = 25) -> tuple[Measurement, int]:
    import socketio

    clients = len(cookies)
    measurement = Measurement(clients)
    sockets: list = []

    def make_handler(index: int):
        def on_message(payload):
            client_id = payload.get("client_id") or ""
            if not client_id.startswith("b"):
                return
            seq = int(client_id[1:])
            if seq in measurement.seen[index]:
                return
            measurement.seen[index].add(seq)
            measurement.received[index] += 1
            sent = measurement.sent_at.get(seq)
            if sent is not None:
                measurement.latency_ms.append((time.perf_counter() - sent) * 1000.0)
        return on_message

    def make_disconnect():
        def on_disconnect(*args):
            if not measurement.finished:
                measurement.disconnects += 1
        return on_disconnect

    gate = asyncio.Semaphore(connect_concurrency)

    async def connect(index: int):
        client = socketio.AsyncClient(reconnection=False, request_timeout=30)
        client.on("new_message", make_handler(index), namespace="/chat")
        client.on("disconnect", make_disconnect(), namespace="/chat")
        url = urls[index % len(urls)]
        async with gate:
            await client.connect(url, namespaces=["/chat"], transports=["websocket"], wait_timeout=30,
                                 headers={"Cookie": f"session={cookies[index]}", "User-Agent": USER_AGENT})
            reply = await client.call("join", {"room": ROOM}, namespace="/chat", timeout=60)
        if not reply or not reply.get("ok"):
            raise RuntimeError(f"client {index} could not join: {reply}")
        sockets.append(client)

    started = time.perf_counter()
    await asyncio.gather(*(connect(i) for i in range(clients)))
    click.echo(f"  {clients} clients connected and joined in {time.perf_counter() - started:.1f}s", err=True)
    await asyncio.sleep(1.0)  # let the presence notices of the last joins settle

    def acked(reply):
        if reply and reply.get("ok"):
            measurement.acked_ok += 1
        else:
            error = (reply or {}).get("error", "no answer")
            measurement.send_errors[error] = measurement.send_errors.get(error, 0) + 1

    loop = asyncio.get_running_loop()
    interval = 1.0 / rate
    total = int(rate * seconds)
    begin = loop.time()
    for seq in range(total):
        delay = begin + seq * interval - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        sender = sockets[seq % len(sockets)]
        measurement.sent_at[seq] = time.perf_counter()
        await sender.emit("send", {"room": ROOM, "body": f"bench message {seq}", "client_id": f"b{seq}"},
                          namespace="/chat", callback=acked)
    sending_took = loop.time() - begin
    expected = total * clients
    deadline = loop.time() + drain
    while sum(measurement.received) < expected and loop.time() < deadline:
        await asyncio.sleep(0.1)
    measurement.sending_seconds = sending_took
    click.echo(f"  sent {total} in {sending_took:.1f}s; drained for {drain - max(0.0, deadline - loop.time()):.1f}s",
               err=True)
    measurement.finished = True
    await asyncio.gather(*(s.disconnect() for s in sockets), return_exceptions=True)
    return measurement, total


def _percentile(values, fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(fraction * (len(ordered) - 1)))))
    return round(ordered[index], 1)


def run_chat_bench(clients: int, workers: int, rate: float, seconds: float, *, database: str = "auto",
                   redis_url: str = "", drain: float = 10.0) -> dict:
    """Run the benchmark and return its figures."""
    base = Settings(_env_file=None)
    redis_url = redis_url or base.redis_url or base.test_redis_url
    import redis

    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        raise click.ClickException(f"Redis is needed for the message queue ({redis_url}): {error}") from None
    if database == "auto":
        database = "postgresql" if _postgres_up(base.test_postgres_url) else "sqlite"
    var_dir = Path(tempfile.mkdtemp(prefix="mentorhub-chat-bench-"))
    try:
        with scratch_database(database, base.test_postgres_url) as database_url:
            settings = Settings(_env_file=None, profile="testing", secret_key=secrets.token_urlsafe(32),
                                var_dir=var_dir, database_url=database_url, redis_url=redis_url,
                                socketio_async_mode="threading")
            cookies, _ = prepare(settings, clients)
            started = start_workers(workers, settings, var_dir, extra_env={
                "CHAT_FLOOD_MESSAGES": "1000000",  # the bench measures delivery, not flood control
            })
            try:
                measurement, sent = asyncio.run(_run_load(started.urls, cookies, rate, seconds, drain))
            finally:
                started.stop()
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)
    expected = sent * clients
    delivered = sum(measurement.received)
    figures = {
        "clients": clients,
        "workers": workers,
        "rate": rate,
        "seconds": seconds,
        "database": database,
        "sent": sent,
        "stored": measurement.acked_ok,
        "send_errors": measurement.send_errors,
        "delivered_expected": expected,
        "delivered": delivered,
        "lost": expected - delivered,
        "p50_ms": round(statistics.median(measurement.latency_ms), 1) if measurement.latency_ms else None,
        "p99_ms": _percentile(measurement.latency_ms, 0.99),
        "max_ms": round(max(measurement.latency_ms), 1) if measurement.latency_ms else None,
        "sending_seconds": round(getattr(measurement, "sending_seconds", 0.0), 1),
        "client_disconnects": measurement.disconnects,
    }
    return figures


def _postgres_up(url: str) -> bool:
    import sqlalchemy as sa

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
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path))
def chat(clients: int, workers: int, rate: float, seconds: float, database: str, redis_url: str, drain: float,
         json_path: Path | None) -> None:
    """Real eventlet workers on the Redis queue; CLIENTS socket clients in one room; delivery and latency."""
    click.echo(f"chat bench: {clients} clients, {workers} workers, {rate:g} msg/s for {seconds:g}s", err=True)
    figures = run_chat_bench(clients, workers, rate, seconds, database=database, redis_url=redis_url, drain=drain)
    click.echo(f"sent {figures['sent']} messages, delivered {figures['delivered']} of {figures['delivered_expected']} "
               f"(lost {figures['lost']}); latency p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms")
    click.echo(json.dumps(figures))
    if json_path:
        json_path.write_text(json.dumps(figures, indent=2) + "\n")
