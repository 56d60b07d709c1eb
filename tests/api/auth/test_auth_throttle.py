"""Log-in throttling per account and per IP (Flask-Limiter): temporary, never a permanent lock-out."""
from __future__ import annotations

import time

import pytest

from tests.api.auth.accounts_helpers import PASSWORD, JsonClient

# Nothing here depends on the database engine: these tests run on SQLite only.


class Clock:
    """limits' in-memory storage reads time.time(); this moves it forward."""

    def __init__(self):
        self.offset = 0.0

    def time(self):
        return time.time() + self.offset

    def __getattr__(self, name):
        return getattr(time, name)


@pytest.fixture
def clock(monkeypatch):
    import limits.storage.memory

    fake = Clock()
    monkeypatch.setattr(limits.storage.memory, "time", fake)
    return fake


def test_failed_logins_lock_the_account_for_a_while_only(app, make_user, clock):
    app.config["MENTORHUB_SETTINGS"].login_limit_per_account = "3 per 15 minutes"
    make_user("ana@example.com")
    make_user("bob@example.com")
    attacker = JsonClient(app.test_client())
    for _ in range(3):
        assert attacker.login(password="guess guess guess").status_code == 401
    blocked = attacker.login()
    assert blocked.status_code == 429
    assert "Too many failed log-in attempts" in blocked.json["error"]["message"]
    assert 0 < int(blocked.headers["Retry-After"]) <= 15 * 60
    assert attacker.login("bob@example.com").status_code == 200  # other accounts are not affected
    clock.offset = 15 * 60 + 1
    owner = JsonClient(app.test_client())
    assert owner.login().status_code == 200  # the window passed: nobody is locked out for good


def test_successful_logins_do_not_count(app, make_user):
    app.config["MENTORHUB_SETTINGS"].login_limit_per_account = "2 per 15 minutes"
    make_user("ana@example.com")
    for _ in range(4):
        assert JsonClient(app.test_client()).login().status_code == 200


def test_failed_logins_from_one_ip_are_limited_across_accounts(app, make_user, clock):
    app.config["MENTORHUB_SETTINGS"].login_limit_per_ip = "4 per 15 minutes"
    make_user("ana@example.com")
    client = JsonClient(app.test_client())
    for n in range(4):
        assert client.login(f"user{n}@example.com", "guess guess").status_code == 401
    assert client.login().status_code == 429
    other_ip = JsonClient(app.test_client())
    other_ip.client.environ_base["REMOTE_ADDR"] = "10.0.0.9"
    assert other_ip.login().status_code == 200
    clock.offset = 15 * 60 + 1
    assert client.login().status_code == 200


def test_web_login_form_is_throttled_too(app, client, make_user):
    from tests.api.auth.accounts_helpers import form_token

    app.config["MENTORHUB_SETTINGS"].login_limit_per_account = "2 per 15 minutes"
    make_user("ana@example.com")
    token = form_token(client, "/login")
    for _ in range(2):
        client.post("/login", data={"csrf_token": token, "email": "ana@example.com", "password": "nope nope"})
    page = client.post("/login", data={"csrf_token": token, "email": "ana@example.com", "password": PASSWORD})
    assert page.status_code == 429 and "Too many failed log-in attempts" in page.get_data(as_text=True)


@pytest.mark.services
def test_throttling_works_on_redis(tmp_path, sqlite_template, redis_url):
    import shutil
    import uuid

    from api import create_app
    from tests.conftest import make_settings

    shutil.copy(sqlite_template, tmp_path / "mentorhub.db")
    settings = make_settings(tmp_path, redis_url=redis_url, login_limit_per_account="2 per 15 minutes",
                             argon2_time_cost=1, argon2_memory_cost_kib=1024, argon2_parallelism=1)
    app = create_app(settings=settings, config={"RATELIMIT_KEY_PREFIX": uuid.uuid4().hex})
    assert app.config["RATELIMIT_STORAGE_URI"] == redis_url
    client = JsonClient(app.test_client())
    assert client.login(password="guess guess").status_code == 401
    assert client.login(password="guess guess").status_code == 401
    assert client.login(password="guess guess").status_code == 429
    from api.extensions import db

    with app.app_context():
        db.engine.dispose()
