"""`mentorhub bench serving`: our recommendation endpoint against `mlflow models serve`, same model, same load.

    mentorhub bench serving --learners 50000 --mentors 10000 [--db sqlite|postgres] [--workers N]
                            [--requests 5000] [--json PATH]

Seeds (or reuses, under --var-dir) a world with the search benchmark's bulk seeder plus learner accounts,
trains an SVD champion from the reviews (serving.bootstrap) unless the registry already has one, starts
a running A/B experiment (two arms, different re-ranking weights), and serves it in a subprocess as the
recommendation tier is deployed (`create_app(tier="recommendations")` of api.recommendation_server under granian with
deploy/recommendations.env: one Python thread per worker, keep-alive connections, each worker warmed up
before it takes traffic), with `--workers` processes (default 2). 8 concurrent clients
(threads of a separate client process, one keep-alive connection each, requests made before the clock
starts and responses read by a lean HTTP/1.1 reader, so that the client takes as little as it can of
the cores it shares with the server) drive GET /api/v1/recommendations,
each request as a different learner (forged session cookies), with a mix of topic, price and
availability filters; every response logs an exposure (and the run checks that every exposure id
returned was written). Then it serves the same registered version with `mlflow models serve
--env-manager local` (its default: one uvicorn worker) and drives POST /invocations with the same
clients, learners and k (MLflow has no catalogue, so no filters there: the whole catalogue is ranked).
Figures: p50_ms, p99_ms, rps, mlflow_p50_ms, mlflow_p99_ms, mlflow_rps, ratio_rps (ours over MLflow's),
and, because the machine is shared, the CPU time the server and the clients spent per request and the
load average before and after each run.
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import click
import orjson
import pandas as pd
import sqlalchemy as sa
from flask_login.utils import _create_identifier
from flask_migrate import upgrade

from api import create_app
from api.benchmarks.common import free_port, percentile, tree_cpu_seconds
from api.benchmarks.harness import harness_settings
from api.benchmarks.search import _chunks, _postgres_url, build_free_slots, seed as seed_search_world
from api.demo import catalogue as demo_catalogue
from api.extensions import db
from api.search import free_slots
from api.settings import Settings
from api.tables import Event, EventType, LearnerProfile, User, UserRole, learner_topics
from serving import ab, bootstrap
from serving.registry import MODEL_NAME, ModelRegistry

UTC = timezone.utc
SECRET = secrets.token_urlsafe(48)  # production profile: a strong key, made per run
USER_AGENT = "mentorhub-bench-serving/1.0"
POSTGRES_DB = "mentorhub_bench_serving"  # the prefix of each world's database
DEPLOY_ENV = Path(__file__).resolve().parents[2] / "deploy" / "recommendations.env"


def _tier_environment(env: dict, var_dir: Path, database_url: str, port: int, workers: int) -> dict:
    """The recommendation tier's deployed server settings (deploy/recommendations.env) on a local port with
    `workers` processes, and the app's settings for this world."""
    deployed = dict(line.split("=", 1) for line in DEPLOY_ENV.read_text().splitlines()
                    if line.strip() and not line.startswith("#"))
    return {**env, **deployed, "GRANIAN_HOST": "127.0.0.1", "GRANIAN_PORT": str(port), "GRANIAN_WORKERS": str(workers),
            "GRANIAN_LOG_LEVEL": "warning", "MENTORHUB_PROFILE": "production", "VAR_DIR": str(var_dir),
            "DATABASE_URL": database_url, "SECRET_KEY": SECRET, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "LOG_LEVEL": "WARNING",
            "SOCKETIO_ASYNC_MODE": "threading", "SERVING_AB_CHECK_SECONDS": "0",
            "SERVING_FIRST_LOAD_WAIT_SECONDS": "120"}


def _bench_settings(var_dir: Path, database_url: str = ""):
    return Settings(_env_file=None, profile="production", var_dir=var_dir, database_url=database_url,
                    log_level="WARNING", secret_key=SECRET, socketio_async_mode="threading", serving_ab_check_seconds=0,
                    public_base_url="http://127.0.0.1")


def _postgres_database(var_dir: Path, marker: Path) -> str:
    """The DATABASE_URL of this world's PostgreSQL database, one per world folder; made afresh (and the world's
    marker removed, so that it is seeded) when the world is new or its database is gone."""
    base = harness_settings().test_postgres_url
    name = f"{POSTGRES_DB}_{hashlib.sha1(str(var_dir).encode()).hexdigest()[:10]}"
    engine = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg2://", 1), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        exists = connection.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}).scalar()
        if not exists or not marker.is_file():
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
            marker.unlink(missing_ok=True)
    engine.dispose()
    return _postgres_url(base, name)


def _seed(app, learners: int, mentors: int) -> dict:
    """The search benchmark's mentors, bookings and reviews, then every learner account with the learner role."""
    with app.app_context():
        upgrade()
    reviews = max(1000, learners * 2)
    seeded = seed_search_world(app, mentors, reviews)
    rng = random.Random(5)
    now = datetime.now(UTC)
    with app.app_context():
        with db.engine.begin() as conn:
            existing = seeded["learners"]
            first_new = mentors + existing + 1
            extra = [dict(id=i, email=f"learner{i}@example.com", full_name=f"Learner {i}", timezone="UTC",
                          currency="USD", is_active_account=True, session_version=1, created_at=now)
                     for i in range(first_new, mentors + learners + 1)]
            _chunks(conn, User.__table__, extra)
            ids = range(mentors + 1, mentors + learners + 1)
            _chunks(conn, UserRole.__table__, [dict(user_id=i, role="learner") for i in ids])
            topic_count = conn.execute(sa.text("SELECT count(*) FROM topics")).scalar()
            _chunks(conn, LearnerProfile.__table__, [dict(user_id=i, interests="", preferred_slots=[], created_at=now,
                                                          updated_at=now) for i in ids])
            _chunks(conn, learner_topics, [dict(learner_id=i, topic_id=t) for i in ids
                                           for t in rng.sample(range(1, topic_count + 1), 2)])
    return {**seeded, "learners": learners}


def _free_slot_index(app) -> None:
    """The availability index of the world (built after a bulk seed, which bypasses the ORM hooks that keep it
    current; a world seeded by an older version is migrated and indexed first)."""
    with app.app_context():
        upgrade()
        built = free_slots.anchor() is not None
        db.session.remove()
    if not built:
        build_free_slots(app)


def _train(app, var_dir: Path) -> str:
    registry = ModelRegistry(app.config["MENTORHUB_SETTINGS"].mlflow_uri)
    if Path(var_dir / "mlflow.db").is_file():
        version = registry.alias_version("champion") if registry.wait_until_loaded(5) else None
        if version:
            return version
    with app.app_context():
        frame = pd.read_sql(sa.text("SELECT learner_id AS user_id, mentor_id AS item_id, rating, created_at "
                                    "FROM reviews"), db.engine)
    frame["timestamp"] = pd.to_datetime(frame.pop("created_at"), utc=True).astype("int64") // 10**9
    frame["rating"] = frame["rating"].astype(float)
    model = bootstrap.fit("svd", frame)
    return bootstrap.register(model, "svd", app.config["MENTORHUB_SETTINGS"].mlflow_uri, var_dir / "mlartifacts")


def _experiment(app) -> None:
    with app.app_context():
        if ab.running_experiment(db.session) is None:
            ab.create_experiment(db.session, "bench", [
                {"name": "control", "model_alias": "champion", "traffic_share": 0.5},
                {"name": "diverse", "model_alias": "challenger", "traffic_share": 0.5,
                 "rerank_weights": {"diversity": 0.5, "new_mentor": 0.4}}], start=True)
            db.session.commit()


def _cookies(app, learner_ids: list[int]) -> dict[int, str]:
    """Signed session cookies of these learners (what a log-in would set), without hashing any password."""
    serializer = app.session_interface.get_signing_serializer(app)
    with app.test_request_context(environ_base={"REMOTE_ADDR": "127.0.0.1", "HTTP_USER_AGENT": USER_AGENT}):
        identifier = _create_identifier()
    name = app.config["SESSION_COOKIE_NAME"]
    return {i: f"{name}={serializer.dumps({'_user_id': f'{i}:1', '_fresh': True, '_id': identifier})}"
            for i in learner_ids}


def _mix(count: int, learner_ids: list[int], topics: list[str], seed: int = 3) -> list[dict]:
    rng = random.Random(seed)
    today = datetime.now(UTC).date()
    windows = [(today + timedelta(days=d), today + timedelta(days=d + 6)) for d in (1, 8)]
    mix = []
    for _ in range(count):
        params: dict = {"k": rng.choice((5, 10, 10))}
        kind = rng.choices(("plain", "topic", "price", "availability"), (40, 30, 15, 15))[0]
        if kind == "topic":
            params["topic"] = rng.choice(topics)
        elif kind == "price":
            params.update(price_max=rng.choice((50, 80, 120)), currency="USD")
        elif kind == "availability":
            start, end = rng.choice(windows)
            params.update(available_from=start.isoformat(), available_to=end.isoformat(), time_from="09:00",
                          time_to="18:00", tz="UTC")
        mix.append({"learner": rng.choice(learner_ids), "params": params})
    return mix


def _start(command: list[str], env: dict, health: str, timeout: float = 240.0) -> subprocess.Popen:
    # the server's log goes to a file: a pipe nobody reads would fill up and stop a server that logs errors
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise click.ClickException("a bench server died: " + log.read().decode(errors="replace")[-2000:])
        try:
            with urllib.request.urlopen(health, timeout=2) as response:
                if response.status == 200:
                    return process
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            time.sleep(0.2)
    process.terminate()
    raise click.ClickException(f"a bench server did not start ({health})")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()  # the tier's workers write what they still queue before they exit
    try:
        process.wait(timeout=45)
    except subprocess.TimeoutExpired:
        process.kill()


def _figures(latencies: list[float], wall: float) -> dict:
    return {"p50_ms": round(percentile(latencies, 50) * 1000, 2), "p99_ms": round(percentile(latencies, 99) * 1000, 2),
            "rps": round(len(latencies) / wall, 1), "requests": len(latencies)}



class _KeepAliveClient:
    """The load generator's HTTP/1.1 keep-alive connection: a request is bytes made before the clock starts, a
    response is read as its status and its body of Content-Length bytes (both servers send one). On this
    2-core machine the client shares the cores with the server it measures; http.client took a fifth of a
    millisecond per request."""
    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)
        self.sock = self.reader = None

    def call(self, request: bytes) -> tuple[int, bytes]:
        if self.sock is None:
            self.sock = socket.create_connection(self.address, timeout=60)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.reader = self.sock.makefile("rb")
        self.sock.sendall(request)
        status = int(self.reader.readline().split(None, 2)[1])
        length, closing = None, False
        while (line := self.reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                closing = value == b"close"
        if length is None:
            raise RuntimeError("a response without Content-Length")
        body = self.reader.read(length)
        if closing:
            self.close()
        return status, body

    def close(self) -> None:
        if self.sock is not None:
            self.reader.close()
            self.sock.close()
            self.sock = self.reader = None


def _request(kind: str, host: str, port: int, item: dict) -> bytes:
    """The bytes of one call: our GET with the learner's session cookie, or MLflow's POST /invocations."""
    if kind == "ours":
        return (f"GET /api/v1/recommendations?{urlencode(item['params'])} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Cookie: {item['cookie']}\r\nUser-Agent: {USER_AGENT}\r\n\r\n").encode()
    body = json.dumps({"dataframe_records": [{"learner_id": item["learner"], "k": item["params"]["k"]}]}).encode()
    return (f"POST /invocations HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def _drive(kind: str, base: str, items: list[dict], clients: int) -> dict:
    """The client process: `clients` threads, each on its own keep-alive connection (opened, and one request
    served, before timing starts), send every item; per-call seconds, wall, this process's CPU, exposure ids."""
    host, port = urlsplit(base).hostname, urlsplit(base).port
    requests = [_request(kind, host, port, item) for item in items]

    def call(client: _KeepAliveClient, request: bytes) -> int | None:
        status, body = client.call(request)
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {body[:200]!r}")
        if kind != "ours":
            return None
        answer = orjson.loads(body)
        if not answer.get("exposure_id") and answer.get("recommendations"):
            raise RuntimeError("no exposure logged")
        return answer.get("exposure_id")

    latencies: list[float] = []
    ids: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()
    cursor = iter(requests)

    def worker():
        local, local_ids = [], []
        client = _KeepAliveClient(host, port)
        try:  # the connection is open and has served one request before the clock starts: steady state
            call(client, requests[0])
        except Exception as error:  # noqa: BLE001 - recorded, reported after the run
            errors.append(repr(error))
            client.close()
        ready.wait()
        while True:
            with lock:
                request = next(cursor, None)
            if request is None:
                break
            started = time.perf_counter()
            try:
                found = call(client, request)
                if found:
                    local_ids.append(int(found))
            except Exception as error:  # noqa: BLE001 - recorded, reported after the run
                errors.append(repr(error))
                client.close()  # a fresh connection for the next call
            local.append(time.perf_counter() - started)
        client.close()
        with lock:
            latencies.extend(local)
            ids.extend(local_ids)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    ready = threading.Barrier(clients + 1)
    for thread in threads:
        thread.start()
    ready.wait()
    cpu, started = time.process_time(), time.perf_counter()
    for thread in threads:
        thread.join()
    return {"latencies": latencies, "wall": time.perf_counter() - started, "client_cpu": time.process_time() - cpu,
            "ids": ids, "errors": errors}


def _run_clients(kind: str, base: str, items: list[dict], clients: int, server_pid: int) -> dict:
    """Drive the server from a separate process; figures with server and client CPU per request and load average."""
    load_before = os.getloadavg()
    server_cpu = tree_cpu_seconds(server_pid)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        run = pool.submit(_drive, kind, base, items, clients).result()
    server_cpu = tree_cpu_seconds(server_pid) - server_cpu
    if run["errors"]:
        raise click.ClickException(f"{len(run['errors'])} calls failed, e.g. {run['errors'][0]}")
    n = len(run["latencies"])
    figures = _figures(run["latencies"], run["wall"])
    figures.update({"server_cpu_ms_per_request": round(server_cpu * 1000 / n, 2),
                    "client_cpu_ms_per_request": round(run["client_cpu"] * 1000 / n, 2),
                    "server_cpu_cores_used": round(server_cpu / run["wall"], 2),
                    "loadavg_before": [round(x, 2) for x in load_before],
                    "loadavg_after": [round(x, 2) for x in os.getloadavg()]})
    return {"figures": figures, "ids": run["ids"]}


def _check_exposures(app, ids: list[int]) -> dict:
    """Every exposure id a client got back is a written exposure row (after the server flushed and exited)."""
    wanted = sorted(set(ids))
    found = 0
    with app.app_context():
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            found += db.session.execute(sa.select(sa.func.count()).select_from(Event).where(
                Event.id.in_(chunk), Event.event_type == EventType.EXPOSURE)).scalar_one()
        db.session.remove()
    if found != len(wanted) or len(wanted) != len(ids):
        raise click.ClickException(f"exposures: {len(ids)} ids returned, {len(wanted)} distinct, {found} written")
    return {"exposure_ids_returned": len(ids), "exposure_rows_found": found}


@click.command("serving")
@click.option("--learners", default=50_000, show_default=True)
@click.option("--mentors", default=10_000, show_default=True)
@click.option("--requests", "request_count", default=5000, show_default=True)
@click.option("--clients", default=8, show_default=True)
@click.option("--db", "kind", type=click.Choice(["sqlite", "postgres"]), default="sqlite", show_default=True)
@click.option("--workers", type=click.IntRange(1, 16), default=2, show_default=True, help="server worker processes")
@click.option("--var-dir", type=click.Path(path_type=Path), default=None,
              help="Reuse this world (default: a folder per size and database under the system temp dir).")
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None)
def serving(learners: int, mentors: int, request_count: int, clients: int, kind: str, workers: int,
            var_dir: Path | None, json_path: Path | None) -> None:
    """Recommendation endpoint (filters, A/B routing, exposure logging) vs `mlflow models serve`."""
    var_dir = (var_dir or Path(tempfile.gettempdir()) / f"mentorhub-bench-serving-{learners}-{mentors}-{kind}"
               ).resolve()
    var_dir.mkdir(parents=True, exist_ok=True)
    marker = var_dir / "seeded.json"
    database_url = _postgres_database(var_dir, marker) if kind == "postgres" else ""
    app = create_app(settings=_bench_settings(var_dir, database_url))
    started = time.perf_counter()
    if not marker.is_file():
        click.echo(f"seeding {learners} learners and {mentors} mentors into {var_dir} ...")
        marker.write_text(json.dumps(_seed(app, learners, mentors)))
    world = json.loads(marker.read_text())
    _free_slot_index(app)
    seed_seconds = time.perf_counter() - started
    version = _train(app, var_dir)
    _experiment(app)
    click.echo(f"world ready ({seed_seconds:.0f}s), champion version {version}")

    learner_ids = list(range(mentors + 1, mentors + learners + 1))
    mix = _mix(request_count, learner_ids, [t[0] for t in demo_catalogue.TOPICS])
    cookies = _cookies(app, sorted({m["learner"] for m in mix}))

    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MENTORHUB_PROFILE", "VAR_DIR")}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    items = [{**m, "cookie": cookies[m["learner"]]} for m in mix]
    if not DEPLOY_ENV.is_file():
        raise click.ClickException(f"run the benchmark from a checkout: {DEPLOY_ENV} is missing")
    server = _start([sys.executable, "-m", "granian", "api.recommendation_server:serve"],
                    _tier_environment(env, var_dir, database_url, port, workers), base + "/healthz")
    try:
        # warm-up: the first request loads the model and builds the catalogue; then availability windows and
        # converted price arrays get cached
        warm = _drive("ours", base, items[:1], 1)
        if warm["errors"]:
            raise click.ClickException(f"warm-up failed: {warm['errors'][0]}")
        _drive("ours", base, items[: min(400, len(items))], clients)  # every worker meets every window
        run = _run_clients("ours", base, items, clients, server.pid)
        result = run["figures"]
    finally:
        _stop(server)
    result.update(_check_exposures(app, run["ids"]))

    mport = free_port()
    menv = {**env, "MLFLOW_TRACKING_URI": _bench_settings(var_dir, database_url).mlflow_uri,  # its server runs `uvicorn` from PATH
            "PATH": str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")}
    mserver = _start([sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/{MODEL_NAME}/{version}",
                      "--env-manager", "local", "-h", "127.0.0.1", "-p", str(mport)], menv,
                     f"http://127.0.0.1:{mport}/ping", timeout=600)
    try:
        mbase = f"http://127.0.0.1:{mport}"
        _drive("mlflow", mbase, items[:50], clients)
        mlflow_figures = _run_clients("mlflow", mbase, items, clients, mserver.pid)["figures"]
    finally:
        _stop(mserver)
    out = {**result, "mlflow_p50_ms": mlflow_figures["p50_ms"], "mlflow_p99_ms": mlflow_figures["p99_ms"],
           "mlflow_rps": mlflow_figures["rps"], "ratio_rps": round(result["rps"] / mlflow_figures["rps"], 2),
           "mlflow_server_cpu_ms_per_request": mlflow_figures["server_cpu_ms_per_request"],
           "mlflow_client_cpu_ms_per_request": mlflow_figures["client_cpu_ms_per_request"],
           "mlflow_loadavg_before": mlflow_figures["loadavg_before"],
           "mlflow_loadavg_after": mlflow_figures["loadavg_after"],
           "db": kind, "server": f"granian (deploy/recommendations.env), {workers} worker(s), 1 Python thread each, keep-alive",
           "mlflow_server": "mlflow models serve (uvicorn, its default of 1 worker)",
           "client": f"{clients} threads in a separate process, one keep-alive connection each, requests made "
                     "before the clock starts",
           "learners": learners, "mentors": mentors, "clients": clients, "model_version": version,
           "world": world, "var_dir": str(var_dir)}
    click.echo(json.dumps(out, indent=2))
    click.echo(f"ours ({kind}, {workers} worker(s)): p50 {out['p50_ms']} ms, p99 {out['p99_ms']} ms, {out['rps']} req/s; "
               f"mlflow models serve: p50 {out['mlflow_p50_ms']} ms, p99 {out['mlflow_p99_ms']} ms, "
               f"{out['mlflow_rps']} req/s; throughput ratio {out['ratio_rps']}x (goal: p99 < 30 ms and >= 5x)")
    if json_path:
        json_path.write_text(json.dumps(out, indent=2))
