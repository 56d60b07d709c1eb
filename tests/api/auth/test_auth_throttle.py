"""Log-in throttling per IP, per account and IP, and per account: counted on the server before the password is
checked, temporary, never a lock-out of the owner (a mailed one-time link), unaffected by a Redis outage."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from tests.api.auth.accounts_helpers import PASSWORD, JsonClient, form_token, last_link, outbox
from tests.conftest import make_settings

ATTACKER_IP, OWNER_IP = "203.0.113.9", "198.51.100.7"


class Clock:
    """Moves the counters' clock (api.auth.limits.now) forward."""

    def __init__(self, real):
        self.real, self.offset = real, timedelta(0)

    def __call__(self):
        return self.real() + self.offset


@pytest.fixture
def clock(monkeypatch):
    from api.auth import limits

    fake = Clock(limits.now)
    monkeypatch.setattr(limits, "now", fake)
    return fake


def client_at(app, ip: str) -> JsonClient:
    client = JsonClient(app.test_client())
    client.client.environ_base["REMOTE_ADDR"] = ip
    return client


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
    clock.offset = timedelta(minutes=15, seconds=1)
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
    assert client_at(app, "10.0.0.9").login().status_code == 200
    clock.offset = timedelta(minutes=15, seconds=1)
    assert client.login().status_code == 200


def test_web_login_form_is_throttled_too(app, client, make_user):
    app.config["MENTORHUB_SETTINGS"].login_limit_per_account = "2 per 15 minutes"
    make_user("ana@example.com")
    token = form_token(client, "/login")
    for _ in range(2):
        client.post("/login", data={"csrf_token": token, "email": "ana@example.com", "password": "nope nope"})
    page = client.post("/login", data={"csrf_token": token, "email": "ana@example.com", "password": PASSWORD})
    assert page.status_code == 429 and "Too many failed log-in attempts" in page.get_data(as_text=True)


@pytest.mark.db
def test_parallel_wrong_logins_check_at_most_the_limit(app, make_user, live_server, monkeypatch):
    """Issue 17, item 2: 40 simultaneous wrong passwords against a real threaded server; the limit is 10."""
    import requests
    from concurrent.futures import ThreadPoolExecutor

    from api.auth import accounts

    app.config["MENTORHUB_SETTINGS"].login_limit_per_account = "10 per 15 minutes"
    make_user("ana@example.com")
    checked, lock = [], threading.Lock()
    real_verify = accounts.verify_password

    def counting_verify(password_hash, password):
        with lock:
            checked.append(password)
        time.sleep(0.05)  # a slow hash widens any gap between "tested" and "counted"
        return real_verify(password_hash, password)

    monkeypatch.setattr(accounts, "verify_password", counting_verify)
    sessions = [requests.Session() for _ in range(40)]
    tokens = [s.get(live_server + "/api/v1/csrf-token").json()["csrf_token"] for s in sessions]
    start = threading.Barrier(40)

    def attempt(n: int) -> int:
        start.wait()
        return sessions[n].post(live_server + "/api/v1/auth/login", headers={"X-CSRFToken": tokens[n]},
                                json={"email": "ana@example.com", "password": f"wrong guess {n}"}, timeout=60).status_code

    with ThreadPoolExecutor(40) as pool:
        statuses = list(pool.map(attempt, range(40)))
    print(f"\n40 concurrent wrong log-ins: {len(checked)} passwords checked, {statuses.count(429)} refused with 429")
    assert len(checked) == 10
    assert sorted(statuses) == [401] * 10 + [429] * 30


@pytest.mark.db
def test_login_and_password_reset_work_while_redis_is_down(tmp_path, database_url, caplog):
    """Issue 17, item 4: REDIS_URL points at a closed port; log-in, sign-up and reset answer, limits still hold."""
    from api import create_app
    from api.extensions import db

    settings = make_settings(tmp_path, database_url, redis_url="redis://127.0.0.1:6390/0",
                             login_limit_per_account="3 per 15 minutes", password_reset_limit="2 per hour",
                             argon2_time_cost=1, argon2_memory_cost_kib=1024, argon2_parallelism=1)
    app = create_app(settings=settings)
    try:
        with app.app_context():
            from api.auth.passwords import hash_password
            from api.tables import Role, User, UserRole

            user = User(email="ana@example.com", full_name="Ana", password_hash=hash_password(PASSWORD))
            user.roles = [UserRole(role=Role.LEARNER)]
            db.session.add(user)
            db.session.commit()
        client = JsonClient(app.test_client())
        assert [client.login(password="guess guess").status_code for _ in range(4)] == [401, 401, 401, 429]
        assert JsonClient(app.test_client()).login("nobody@example.com", "guess").status_code == 401
        other_ip = client_at(app, "10.0.0.7")
        assert other_ip.login().status_code == 200
        reset = [client.post("/api/v1/auth/password/forgot", json={"email": "ana@example.com"}).status_code
                 for _ in range(3)]
        assert reset == [202, 202, 429]
        assert client.signup("new@example.com").status_code == 202
    finally:
        with app.app_context():
            db.engine.dispose()


@pytest.mark.db
def test_wrong_passwords_lock_the_attackers_network_not_the_owner(app, make_user, settings):
    """Issue 17, item 13: ten wrong passwords lock that account for that IP only; the owner behind the same IP
    gets a one-time sign-in link by e-mail (one mail per lock, however long the attack goes on)."""
    make_user("ana@example.com", full_name="Ana Owner")
    attacker = client_at(app, ATTACKER_IP)
    for n in range(10):
        assert attacker.login(password=f"guess number {n}").status_code == 401
    assert attacker.login().status_code == 429  # even the right password: that network is locked out
    assert attacker.login().status_code == 429
    assert client_at(app, OWNER_IP).login().status_code == 200  # the owner elsewhere is not

    mails = outbox(settings, "email", "sign_in_link")
    assert len(mails) == 1 and mails[0]["to"] == "ana@example.com"
    link = last_link(settings, "sign_in_link")
    owner_here = client_at(app, ATTACKER_IP)  # the owner on the attacker's network (a shared NAT)
    assert owner_here.login().status_code == 429
    page = owner_here.client.get(link)
    assert page.status_code == 200 and "Log me in" in page.get_data(as_text=True)
    used = owner_here.client.post(link, data={"csrf_token": form_token(owner_here.client, link)})
    assert used.status_code == 302
    assert owner_here.get("/api/v1/auth/me").json["email"] == "ana@example.com"
    again = client_at(app, ATTACKER_IP)
    assert again.client.post(link, data={"csrf_token": form_token(again.client, link)}).status_code == 400


@pytest.mark.db
@pytest.mark.parametrize("hops", [0, 1])
def test_the_ip_limit_trusts_exactly_the_configured_proxy_hops(tmp_path, database_url, hops):
    """Issue 17, item 13: behind nginx (FORWARDED_PROXIES=1) the client is the last X-Forwarded-For entry, whatever the
    client wrote before it; with no proxy configured the header is ignored (it cannot escape the limit)."""
    from api import create_app
    from api.extensions import db

    settings = make_settings(tmp_path, database_url, forwarded_proxies=hops, login_limit_per_ip="3 per 15 minutes",
                             argon2_time_cost=1, argon2_memory_cost_kib=1024, argon2_parallelism=1)
    app = create_app(settings=settings)
    try:
        nginx = client_at(app, "10.0.0.2")  # every request reaches the app from the proxy

        def login_via_proxy(forwarded_for: str, n: int) -> int:
            return nginx.login(f"user{n}@example.com", "guess guess",
                               headers={"X-Forwarded-For": forwarded_for}).status_code

        spoofed = [login_via_proxy(f"1.2.3.{n}, 203.0.113.5", n) for n in range(4)]  # one client, spoofing
        assert spoofed == [401, 401, 401, 429]
        other_client = login_via_proxy("203.0.113.6", 9)
        assert other_client == (401 if hops == 1 else 429)  # hops 0: everyone is the proxy's address
    finally:
        with app.app_context():
            db.engine.dispose()
