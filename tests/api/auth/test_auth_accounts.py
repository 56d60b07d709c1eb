"""Sign-up, log-in, log-out, sessions, passwords: the web pages and the JSON API."""
from __future__ import annotations

import logging

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, text

from api.extensions import db
from api.tables import Role, User
from tests.api.auth.accounts_helpers import PASSWORD, form_token, last_link, outbox

# Tests whose outcome depends on the database run on SQLite and PostgreSQL (`db`); the rest on SQLite.


def _user(app, email="ana@example.com") -> User:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        db.session.expunge(user)
        return user


@pytest.mark.db
def test_web_signup_creates_unverified_account_whose_link_logs_in_and_sends_the_code(app, client, settings):
    token = form_token(client, "/signup?role=mentor")
    response = client.post("/signup", data={"csrf_token": token, "role": "mentor", "full_name": "Mara Mentor",
                                            "email": "Mara@Example.com", "phone": "+44 7700 900123",
                                            "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert "we have sent a message to mara@example.com" in client.get("/login").get_data(as_text=True)
    user = _user(app, "mara@example.com")
    assert user.phone == "+447700900123"
    assert user.email_verified_at is None and user.phone_verified_at is None
    assert user.role_names == {"mentor"}
    assert outbox(settings, "email", "verify_email")[0]["to"] == "mara@example.com"
    assert outbox(settings, "sms") == []  # no text before the address is proven
    assert client.get("/api/v1/auth/me").status_code == 401  # no session before the link either
    link = last_link(settings, "verify_email")
    assert client.post(link, data={"csrf_token": form_token(client, link)}).status_code == 302
    assert client.get("/api/v1/auth/me").json["email"] == "mara@example.com"
    assert outbox(settings, "sms", "phone_otp")[0]["to"] == "+447700900123"


def test_signup_pages_offer_learn_and_teach(client):
    learner = client.get("/signup?role=learner").get_data(as_text=True)
    mentor = client.get("/signup?role=mentor").get_data(as_text=True)
    assert "Create your learner account" in learner and 'value="learner"' in learner
    assert "Become a mentor" in mentor and 'value="mentor"' in mentor
    for page in (learner, mentor):
        assert '<label for="email">' in page and '<label for="password">' in page


@pytest.mark.db
def test_api_signup_and_me(api, settings):
    response = api.signup(log_in=False)
    assert response.status_code == 202 and "ana@example.com" in response.json["message"]
    assert api.get("/api/v1/auth/me").status_code == 401
    token = last_link(settings, "verify_email").rsplit("/", 1)[1]
    assert api.post("/api/v1/auth/verify/email", json={"token": token}).status_code == 200
    me = api.get("/api/v1/auth/me").json
    assert me["email"] == "ana@example.com" and me["roles"] == ["learner"]
    assert me["email_verified"] is True and me["verified"] is False  # the phone code is on its way


BAD_SIGNUPS = [
    ("email", "not-an-email", "valid e-mail"),
    ("phone", "12345", "international format"),
    ("phone", "+44 abc", "international format"),
    ("password", "short", "at least 10"),
    ("password", "password123", "too easy"),
    ("password", "ana@example.com-x", "must not contain your e-mail"),
    ("full_name", "", "name"),
    ("role", "admin", "Must be one of"),
]


def test_api_signup_rejects_bad_input_naming_the_field(api):
    for field, value, message in BAD_SIGNUPS:
        body = {"email": "ana@example.com", "password": PASSWORD, "phone": "+44 7700 900123",
                "full_name": "Ana Learner", "role": "learner", field: value}
        response = api.post("/api/v1/auth/signup", json=body)
        assert response.status_code == 400, (field, value)
        assert message.lower() in response.json["error"]["fields"][field].lower(), (field, value)
    missing = api.post("/api/v1/auth/signup", json={"email": "ana@example.com"})
    assert missing.status_code == 400 and {"password", "phone", "full_name"} <= set(missing.json["error"]["fields"])


@pytest.mark.db
def test_sign_up_answers_the_same_for_a_registered_address_and_mails_its_owner(app, api, client, settings,
                                                                              make_user):
    """Issue 17, item 12: the answer (status, body, cookies) does not tell whether an address has an account."""
    make_user("ana@example.com", full_name="Ana Owner")

    def sign_up(email: str):
        fresh = type(api)(app.test_client())
        response = fresh.signup(email=email, log_in=False)
        body = response.get_json()["message"].replace(email.lower(), "<email>")
        return response.status_code, body, sorted(response.headers.getlist("Set-Cookie")) == [], fresh

    taken, new = sign_up("ANA@example.com"), sign_up("someone.new@example.com")
    assert taken[:3] == new[:3] and taken[0] == 202
    assert taken[3].get("/api/v1/auth/me").status_code == 401
    notes = outbox(settings, "email", "signup_existing")
    assert [m["to"] for m in notes] == ["ana@example.com"] and "already has an account" in notes[0]["body"]
    assert [m["to"] for m in outbox(settings, "email", "verify_email")] == ["someone.new@example.com"]
    pages = []
    for email in ("ana@example.com", "other.new@example.com"):
        page = client.post("/signup", data={"csrf_token": form_token(client, "/signup"), "role": "learner",
                                            "full_name": "Ana", "email": email, "phone": "+447700900123",
                                            "password": PASSWORD})
        pages.append((page.status_code, page.headers.get("Location"),
                      client.get("/login").get_data(as_text=True).count("we have sent a message to")))
    assert pages[0] == pages[1] == (302, "/login", 1)
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == "ana@example.com")).full_name == "Ana Owner"


def test_web_signup_shows_each_problem_next_to_its_field(client):
    token = form_token(client, "/signup")
    page = client.post("/signup", data={"csrf_token": token, "role": "learner", "full_name": "",
                                        "email": "nope", "phone": "999", "password": "abc"})
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    for field in ("full_name", "email", "phone", "password"):
        assert f'id="{field}-error"' in html
        assert f'aria-describedby="{field}' in html
    assert "Please check the form" in html


@pytest.mark.db
def test_passwords_are_argon2id_and_never_stored_or_logged_in_plain_text(app, api, settings, caplog):
    caplog.set_level(logging.DEBUG)
    api.signup()
    api.post("/api/v1/auth/logout")
    api.login()
    api.login(password="wrong password here")
    user = _user(app)
    assert user.password_hash.startswith("$argon2id$")
    with app.app_context():
        row = db.session.execute(text("SELECT * FROM users")).all()
    assert PASSWORD not in repr(row)
    assert PASSWORD not in caplog.text and "wrong password here" not in caplog.text
    assert PASSWORD not in settings.outbox_path.read_text()


@pytest.mark.db
def test_hash_is_redone_when_the_parameters_change(app, api, make_user):
    make_user("old@example.com")
    assert "t=1," in _user(app, "old@example.com").password_hash
    app.config["MENTORHUB_SETTINGS"].argon2_time_cost = 2
    assert api.login("old@example.com").status_code == 200
    new_hash = _user(app, "old@example.com").password_hash
    assert new_hash.startswith("$argon2id$") and "t=2," in new_hash
    assert api.login("old@example.com").status_code == 200  # the new hash verifies


def test_production_hashing_is_argon2id_with_argon2_cffi_defaults_or_stronger():
    from api.auth.passwords import hash_password
    from api.settings import Settings

    defaults, settings = PasswordHasher(), Settings(_env_file=None)
    assert settings.argon2_time_cost >= defaults.time_cost
    assert settings.argon2_memory_cost_kib >= defaults.memory_cost
    assert settings.argon2_parallelism >= defaults.parallelism
    assert hash_password("x" * 12).startswith("$argon2id$v=19$m=65536,t=3,p=4$")


@pytest.mark.db
def test_wrong_password_and_unknown_account_get_the_same_answer(api, make_user):
    make_user("ana@example.com", password=PASSWORD)
    wrong = api.login(password="not the right one")
    unknown = api.login(email="nobody@example.com")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json == unknown.json
    assert "password" in wrong.json["error"]["fields"]


def test_web_login_with_wrong_password_says_so_and_keeps_the_email(client, make_user):
    make_user("ana@example.com")
    token = form_token(client, "/login")
    page = client.post("/login", data={"csrf_token": token, "email": "ana@example.com", "password": "nope nope"})
    assert page.status_code == 401
    html = page.get_data(as_text=True)
    assert "e-mail address or password is not correct" in html and 'value="ana@example.com"' in html


@pytest.mark.db
def test_login_starts_a_new_session(app, client, make_user):
    make_user("ana@example.com", roles=("learner",))
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    token = form_token(client, "/login")
    response = client.post("/login", data={"csrf_token": token, "email": "ana@example.com", "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/profile"
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"].endswith(":1")


def test_login_redirect_stays_on_this_site(app, make_user):
    make_user("ana@example.com")
    for target, expected in (("https://evil.example/x", "/profile"), ("//evil.example", "/profile"),
                             ("/account", "/account")):
        client = app.test_client()
        token = form_token(client, "/login")
        response = client.post("/login", data={"csrf_token": token, "email": "ana@example.com",
                                               "password": PASSWORD, "next": target})
        assert response.headers["Location"] == expected


@pytest.mark.db
def test_logout_ends_every_copy_of_the_session(app, api, make_user):
    make_user("ana@example.com")
    api.login()
    stolen = api.client.get_cookie("session").value
    assert api.post("/api/v1/auth/logout").status_code == 200
    assert api.get("/api/v1/auth/me").status_code == 401
    api.client.set_cookie("session", stolen)
    assert api.get("/api/v1/auth/me").status_code == 401
    assert _user(app).session_version == 2


def test_web_logout_is_post_only_with_csrf(client, make_user, login):
    user = make_user("ana@example.com")
    login(user)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400  # no CSRF token
    assert client.get("/api/v1/auth/me").status_code == 200
    token = form_token(client, "/account")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/api/v1/auth/me").status_code == 401


@pytest.mark.db
def test_change_password_ends_other_sessions_but_keeps_this_one(app, make_user):
    from tests.api.auth.accounts_helpers import JsonClient

    make_user("ana@example.com")
    laptop, phone = JsonClient(app.test_client()), JsonClient(app.test_client())
    laptop.login()
    phone.login()
    bad = laptop.post("/api/v1/auth/password/change", json={"current_password": "wrong one!!", "new_password": "x"})
    assert bad.status_code == 400 and "current_password" in bad.json["error"]["fields"]
    weak = laptop.post("/api/v1/auth/password/change", json={"current_password": PASSWORD, "new_password": "short"})
    assert weak.status_code == 400 and "new_password" in weak.json["error"]["fields"]
    ok = laptop.post("/api/v1/auth/password/change",
                     json={"current_password": PASSWORD, "new_password": "a much better passphrase"})
    assert ok.status_code == 200
    assert laptop.get("/api/v1/auth/me").status_code == 200
    assert phone.get("/api/v1/auth/me").status_code == 401
    assert laptop.login(password=PASSWORD).status_code == 401
    assert laptop.login(password="a much better passphrase").status_code == 200


def test_web_change_password_page(client, make_user, login):
    login(make_user("ana@example.com"))
    token = form_token(client, "/account/password")
    page = client.post("/account/password", data={"csrf_token": token, "current_password": "nope",
                                                  "new_password": "a much better passphrase"})
    assert page.status_code == 400 and "current password is not correct" in page.get_data(as_text=True)
    token = form_token(client, "/account/password")
    response = client.post("/account/password", data={"csrf_token": token, "current_password": PASSWORD,
                                                      "new_password": "a much better passphrase"})
    assert response.status_code == 302
    assert client.get("/api/v1/auth/me").status_code == 200


@pytest.mark.db
def test_forgotten_password_link_works_once_and_ends_sessions(app, api, settings, make_user):
    from tests.api.auth.accounts_helpers import JsonClient

    make_user("ana@example.com")
    other_device = JsonClient(app.test_client())
    other_device.login()
    assert api.post("/api/v1/auth/password/forgot", json={"email": "ana@example.com"}).status_code == 202
    assert api.post("/api/v1/auth/password/forgot", json={"email": "ghost@example.com"}).status_code == 202
    mails = outbox(settings, "email", "password_reset")
    assert [m["to"] for m in mails] == ["ana@example.com"]
    link = last_link(settings, "password_reset")
    page = api.client.get(link)
    assert page.status_code == 200 and "Choose a new password" in page.get_data(as_text=True)
    token = link.rsplit("/", 1)[1]
    weak = api.post("/api/v1/auth/password/reset", json={"token": token, "new_password": "123"})
    assert weak.status_code == 400 and "new_password" in weak.json["error"]["fields"]
    ok = api.post("/api/v1/auth/password/reset", json={"token": token, "new_password": "fresh start for ana"})
    assert ok.status_code == 200
    reused = api.post("/api/v1/auth/password/reset", json={"token": token, "new_password": "another new one!"})
    assert reused.status_code == 400 and "already been used" in reused.json["error"]["fields"]["token"]
    assert other_device.get("/api/v1/auth/me").status_code == 401
    assert api.login(password="fresh start for ana").status_code == 200


def test_web_password_reset_form(client, settings, make_user):
    make_user("ana@example.com")
    token = form_token(client, "/password/forgot")
    response = client.post("/password/forgot", data={"csrf_token": token, "email": "ana@example.com"})
    assert response.status_code == 302
    link = last_link(settings, "password_reset")
    token = form_token(client, link)
    response = client.post(link, data={"csrf_token": token, "new_password": "fresh start for ana"})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    again = client.get(link)
    assert again.status_code == 400 and "already been used" in again.get_data(as_text=True)


@pytest.mark.db
def test_expired_and_forged_reset_links_are_refused(app, api, settings, make_user):
    make_user("ana@example.com")
    api.post("/api/v1/auth/password/forgot", json={"email": "ana@example.com"})
    token = last_link(settings, "password_reset").rsplit("/", 1)[1]
    forged = api.post("/api/v1/auth/password/reset", json={"token": token[:-3] + "abc", "new_password": "x" * 3})
    assert forged.status_code == 400
    app.config["MENTORHUB_SETTINGS"].password_reset_max_age_seconds = -1
    expired = api.post("/api/v1/auth/password/reset", json={"token": token, "new_password": "fresh start for ana"})
    assert expired.status_code == 400 and "expired" in expired.json["error"]["fields"]["token"]


def test_session_cookie_flags(api, make_user):
    from api.config import flask_config
    from api.settings import Settings

    make_user("ana@example.com")
    response = api.login()
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    production = flask_config(Settings(_env_file=None, profile="production"))
    assert production["SESSION_COOKIE_SECURE"] and production["REMEMBER_COOKIE_SECURE"]


def test_state_changes_need_a_csrf_token(client, make_user):
    make_user("ana@example.com")
    assert client.post("/login", data={"email": "ana@example.com", "password": PASSWORD}).status_code == 400
    response = client.post("/api/v1/auth/login", json={"email": "ana@example.com", "password": PASSWORD})
    assert response.status_code == 400 and "csrf_token" in response.json["error"]["fields"]
    assert client.get("/api/v1/auth/me").status_code == 401


def test_api_needs_a_session(api):
    response = api.get("/api/v1/auth/me")
    assert response.status_code == 401 and response.json["error"]["status"] == 401
    assert api.client.get("/account").headers["Location"].startswith("/login?next=")


@pytest.mark.db
def test_signup_role_is_kept_and_admin_cannot_be_chosen(app, api):
    api.signup(role="mentor")
    assert _user(app).role_names == {Role.MENTOR.value}


@pytest.mark.db
def test_wrong_current_passwords_are_counted_on_a_password_change(app, settings, make_user):
    """A stolen session cannot guess the password through the change form: after login_limit_per_account wrong
    current passwords the change is refused (429), even with the right one."""
    from tests.api.auth.accounts_helpers import JsonClient

    settings.login_limit_per_account = "3 per 15 minutes"
    make_user("ana@example.com")
    client = JsonClient(app.test_client())
    client.login()
    for _ in range(3):
        wrong = client.post("/api/v1/auth/password/change",
                            json={"current_password": "not my password", "new_password": "a much better passphrase"})
        assert wrong.status_code == 400 and "current_password" in wrong.json["error"]["fields"]
    locked = client.post("/api/v1/auth/password/change",
                         json={"current_password": PASSWORD, "new_password": "a much better passphrase"})
    assert locked.status_code == 429 and "current_password" in locked.json["error"]["fields"]
