"""Fixtures in the flaskr style: `app` on a fresh database, `client`, `runner`, `make_user`.

Tests marked `db` run twice, on SQLite and on PostgreSQL. Where PostgreSQL, Redis or Chromium
is missing, their tests skip with a reason; with REQUIRE_SERVICES=1 they fail instead.
"""
from __future__ import annotations

import os
import shutil
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from models import clock
from api import create_app
from api.benchmarks.harness import HarnessSettings
from api.settings import Settings

ENV_SETTINGS = HarnessSettings(_env_file=None)  # the services of the tests (the environment only)
TEST_SECRET = "test-secret-key-not-for-production"
# The instant every test world lives at (a Monday, midnight UTC): worlds are seeded up to the day before it, so
# their "now" is this one on any date the tests run.
WORLD_NOW = datetime(2026, 3, 2, tzinfo=timezone.utc)


def service_unavailable(reason: str) -> None:
    """Skip, or fail when the run requires every service (CI)."""
    if ENV_SETTINGS.require_services:
        pytest.fail(f"required service unavailable: {reason}")
    pytest.skip(reason)


def pytest_generate_tests(metafunc):
    explicit = any("db_backend" in m.args[0] for m in metafunc.definition.iter_markers("parametrize"))
    if "db_backend" in metafunc.fixturenames and not explicit:
        backends = ["sqlite", "postgresql"] if metafunc.definition.get_closest_marker("db") else ["sqlite"]
        metafunc.parametrize("db_backend", backends)


def eventually(check, timeout: float = 10.0) -> None:
    """Wait until `check()` is true (something another thread or process does, such as a notification)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {check.__doc__ or check}")
        time.sleep(0.02)


class FixedClock:
    """The product's one clock, fixed for a test: `now` is what `clock.now()` returns; `set` and `advance` move it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def set(self, value: datetime) -> None:
        self.now = value

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture(autouse=True)
def _clock_restored():
    """Whatever a test does to the product's clock is undone after it (no test leaks a fixed clock)."""
    previous = clock.set_now(None)
    clock.set_now(previous)
    yield
    clock.set_now(previous)


@pytest.fixture
def fixed_clock():
    """Fix the product's one clock (`clock.now()`) at WORLD_NOW for the test; `fixed_clock.set(dt)` moves it."""
    fixed = FixedClock(WORLD_NOW)
    previous = clock.set_now(lambda: fixed.now)
    yield fixed
    clock.set_now(previous)


def make_settings(var_dir: Path, database_url: str = "", **overrides) -> Settings:
    """Settings of the testing profile, isolated from the machine's environment and .env."""
    values = dict(
        profile="testing",
        secret_key=TEST_SECRET,
        var_dir=var_dir,
        database_url=database_url,
        socketio_async_mode="threading",
        redis_url="",
        mlflow_tracking_uri=f"sqlite:///{var_dir / 'mlflow.db'}",
    )
    values.update(overrides)
    return Settings(_env_file=None, **values)


def migrate_to_head(settings: Settings) -> None:
    from flask_migrate import upgrade

    app = create_app(settings=settings)
    with app.app_context():
        upgrade()
        from api.extensions import db

        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite database, copied for every test."""
    var_dir = tmp_path_factory.mktemp("sqlite-template")
    migrate_to_head(make_settings(var_dir))
    return var_dir / "mentorhub.db"


def _admin_engine():
    engine = sa.create_engine(
        ENV_SETTINGS.test_postgres_url.replace("postgresql://", "postgresql+psycopg2://", 1),
        isolation_level="AUTOCOMMIT",
    )
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as error:
        engine.dispose()
        service_unavailable(f"PostgreSQL not reachable at {ENV_SETTINGS.test_postgres_url}: {error.orig}")
    return engine


@pytest.fixture(scope="session")
def postgres_server_url(worker_id) -> str:
    """A fresh, migrated PostgreSQL database for this test worker; dropped at the end."""
    engine = _admin_engine()
    name = f"mentorhub_test_{worker_id}_{os.getpid()}"  # concurrent runs never share a database
    with engine.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    base = ENV_SETTINGS.test_postgres_url.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    yield url
    with engine.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_url(postgres_server_url, tmp_path_factory) -> str:
    migrate_to_head(make_settings(tmp_path_factory.mktemp("pg-migrate"), postgres_server_url))
    return postgres_server_url


def _truncate_all(url: str) -> None:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
    with engine.begin() as connection:
        tables = connection.execute(
            sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")
        ).scalars().all()
        if tables:
            connection.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def database_url(db_backend, tmp_path, request) -> str:
    """The URL of an empty, migrated database of the test's backend."""
    if db_backend == "postgresql":
        url = request.getfixturevalue("postgres_url")
        _truncate_all(url)
        return url
    template = request.getfixturevalue("sqlite_template")
    shutil.copy(template, tmp_path / "mentorhub.db")
    return ""  # the settings' default: var_dir/mentorhub.db


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
def app(settings):
    app = create_app(settings=settings)
    yield app
    from api.extensions import db
    from api.recommendations import exposures

    with app.app_context():
        exposures.flush_engine(db.engine)  # nothing left queued for a database the next test truncates
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make_user(app):
    """Create a user with roles: make_user("ana@example.com", roles=("learner",))."""
    from api.auth.passwords import hash_password
    from api.extensions import db
    from api.tables import Role, User, UserRole, utcnow

    def _make(email: str, password: str = "correct horse battery staple", roles=("learner",),
              full_name: str = "Test User", verified: bool = True, **fields) -> User:
        with app.app_context():
            user = User(email=email, full_name=full_name, password_hash=hash_password(password), **fields)
            if verified:
                user.email_verified_at = utcnow()
                user.phone_verified_at = utcnow()
            user.roles = [UserRole(role=Role(r)) for r in roles]
            db.session.add(user)
            db.session.commit()
            db.session.refresh(user)
            db.session.expunge(user)
            return user

    return _make


@pytest.fixture
def redis_url() -> str:
    """The test Redis, flushed; skips (or fails under REQUIRE_SERVICES=1) when it is down."""
    import redis

    client = redis.Redis.from_url(ENV_SETTINGS.test_redis_url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as error:
        service_unavailable(f"Redis not reachable at {ENV_SETTINGS.test_redis_url}: {error}")
    return ENV_SETTINGS.test_redis_url


@pytest.fixture
def live_server(app):
    """The app served over real HTTP on a free port, in a thread; yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    chromium = Path(ENV_SETTINGS.chromium_path)
    if not chromium.exists():
        service_unavailable(f"Chromium not installed at {chromium} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, tmp_path):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def login(app, client):
    """Log `client` in as `user` without the login form (for tests of other features)."""
    from flask_login.utils import _create_identifier

    def _login(user) -> None:
        with app.test_request_context(environ_base=dict(client.environ_base)):
            identifier = _create_identifier()
        with client.session_transaction() as session:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True
            session["_id"] = identifier

    return _login


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory):
    """Prefect's test harness (a temporary API and database), with Prefect's home under the session's tmp."""
    from pipelines.common import configure_prefect

    saved = dict(os.environ)
    configure_prefect(tmp_path_factory.mktemp("prefect-home"))
    from prefect.testing.utilities import prefect_test_harness

    try:
        with prefect_test_harness(server_startup_timeout=120):
            yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="session")
def world_builder():
    """tests/pipelines/world_builder.py: seeds a world and runs the pipeline on it (shared by several folders)."""
    from tests.pipelines import world_builder as builder

    return builder
