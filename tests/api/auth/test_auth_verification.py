"""E-mail link and phone code verification, and `verified_required` for other features."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from api.extensions import db
from api.tables import PhoneVerification, User
from tests.api.auth.accounts_helpers import PASSWORD, form_token, last_code, last_link, outbox

# Tests whose outcome depends on the database run on SQLite and PostgreSQL (`db`); the rest on SQLite.


def _me(api):
    return api.get("/api/v1/auth/me").json


@pytest.mark.db
def test_email_link_asks_for_a_click_then_verifies_once(api, settings):
    api.signup()
    link = last_link(settings, "verify_email")
    page = api.client.get(link)
    assert page.status_code == 200 and "Confirm my e-mail address" in page.get_data(as_text=True)
    assert _me(api)["email_verified"] is False  # a GET changes nothing (mail scanners follow links)
    response = api.client.post(link, data={"csrf_token": form_token(api.client, link)})
    assert response.status_code == 302
    assert _me(api)["email_verified"] is True
    again = api.client.post(link, data={"csrf_token": form_token(api.client, "/account")})
    assert again.status_code == 400 and "already been used" in again.get_data(as_text=True)


@pytest.mark.db
def test_email_token_by_api_expired_forged_and_reused(app, api, settings):
    api.signup()
    token = last_link(settings, "verify_email").rsplit("/", 1)[1]
    forged = api.post("/api/v1/auth/verify/email", json={"token": token[:-2] + "xx"})
    assert forged.status_code == 400 and "not valid" in forged.json["error"]["fields"]["token"]
    app.config["MENTORHUB_SETTINGS"].email_token_max_age_seconds = -1
    expired = api.post("/api/v1/auth/verify/email", json={"token": token})
    assert expired.status_code == 400 and "expired" in expired.json["error"]["fields"]["token"]
    app.config["MENTORHUB_SETTINGS"].email_token_max_age_seconds = 3600
    assert api.post("/api/v1/auth/verify/email", json={"token": token}).status_code == 200
    reused = api.post("/api/v1/auth/verify/email", json={"token": token})
    assert reused.status_code == 400 and "already been used" in reused.json["error"]["fields"]["token"]


def test_resend_sends_a_new_link(api, settings):
    api.signup()
    assert api.post("/api/v1/auth/verify/email/resend").json["message"] == "sent"
    assert len(outbox(settings, "email", "verify_email")) == 2


@pytest.mark.db
def test_phone_code_is_six_digits_stored_hashed_and_single_use(app, api, settings):
    api.signup()
    code = last_code(settings)
    assert len(code) == 6 and code.isdigit()
    with app.app_context():
        row = db.session.scalars(select(PhoneVerification)).one()
        assert code not in row.code_hash and len(row.code_hash) == 64
        assert (row.expires_at - row.created_at).total_seconds() == pytest.approx(600, abs=5)
    assert api.post("/api/v1/auth/verify/phone", json={"code": code}).status_code == 200
    assert _me(api)["phone_verified"] is True
    reused = api.post("/api/v1/auth/verify/phone", json={"code": code})
    assert reused.status_code == 400 and "already been used" in reused.json["error"]["fields"]["code"]


@pytest.mark.db
def test_wrong_codes_count_and_the_fifth_ends_the_code(api, settings):
    api.signup()
    code = last_code(settings)
    wrong = "000000" if code != "000000" else "111111"
    first = api.post("/api/v1/auth/verify/phone", json={"code": wrong})
    assert first.status_code == 400 and "4 attempts left" in first.json["error"]["fields"]["code"]
    for _ in range(4):
        api.post("/api/v1/auth/verify/phone", json={"code": wrong})
    blocked = api.post("/api/v1/auth/verify/phone", json={"code": code})
    assert blocked.status_code == 400 and "Too many wrong codes" in blocked.json["error"]["fields"]["code"]
    assert _me(api)["phone_verified"] is False
    assert api.post("/api/v1/auth/verify/phone/send").status_code == 200  # a new code works again
    assert api.post("/api/v1/auth/verify/phone", json={"code": last_code(settings)}).status_code == 200


@pytest.mark.db
def test_expired_code_and_malformed_code(app, api, settings):
    api.signup()
    code = last_code(settings)
    malformed = api.post("/api/v1/auth/verify/phone", json={"code": "12a456"})
    assert malformed.status_code == 400 and "6-digit" in malformed.json["error"]["fields"]["code"]
    with app.app_context():
        row = db.session.scalars(select(PhoneVerification)).one()
        from datetime import timedelta

        row.expires_at = row.created_at - timedelta(seconds=1)
        db.session.commit()
    expired = api.post("/api/v1/auth/verify/phone", json={"code": code})
    assert expired.status_code == 400 and "expired" in expired.json["error"]["fields"]["code"]


@pytest.mark.db
def test_a_new_code_replaces_the_old_one(api, settings):
    api.signup()
    old = last_code(settings)
    api.post("/api/v1/auth/verify/phone/send")
    new = last_code(settings)
    if old != new:
        assert api.post("/api/v1/auth/verify/phone", json={"code": old}).status_code == 400
    assert api.post("/api/v1/auth/verify/phone", json={"code": new}).status_code == 200


@pytest.mark.db
def test_changing_the_phone_needs_a_new_verification(api, settings):
    api.signup()
    api.post("/api/v1/auth/verify/phone", json={"code": last_code(settings)})
    bad = api.put("/api/v1/auth/phone", json={"phone": "call me"})
    assert bad.status_code == 400 and "phone" in bad.json["error"]["fields"]
    response = api.put("/api/v1/auth/phone", json={"phone": "+1 (415) 555-0100"})
    assert response.json["phone"] == "+14155550100" and response.json["phone_verified"] is False
    assert outbox(settings, "sms")[-1]["to"] == "+14155550100"


def test_web_verification_page_flow(client, settings):
    from tests.api.auth.accounts_helpers import JsonClient

    JsonClient(client).signup()
    page = client.get("/verify").get_data(as_text=True)
    assert "Verify your account" in page and 'autocomplete="one-time-code"' in page
    token = form_token(client, "/verify")
    wrong = client.post("/verify/phone", data={"csrf_token": token, "code": "12345x"})
    assert wrong.status_code == 400 and "6-digit code" in wrong.get_data(as_text=True)
    ok = client.post("/verify/phone", data={"csrf_token": token, "code": last_code(settings)})
    assert ok.status_code == 302
    assert "Verified" in client.get("/verify").get_data(as_text=True)


def test_otp_sending_is_throttled(app, api):
    app.config["MENTORHUB_SETTINGS"].otp_send_limit = "3 per hour"
    api.signup()  # the first code
    assert api.post("/api/v1/auth/verify/phone/send").status_code == 200
    assert api.post("/api/v1/auth/verify/phone/send").status_code == 200
    assert api.post("/api/v1/auth/verify/phone/send").status_code == 429


def test_verified_required_guards_other_features(app, client, make_user, login):
    from api.auth import verified_required

    @app.route("/api/v1/test-book", methods=["POST"])
    @verified_required
    def book():
        return {"booked": True}

    @app.route("/test-book-page")
    @verified_required
    def book_page():
        return "booked"

    from tests.api.auth.accounts_helpers import JsonClient

    api = JsonClient(client)
    assert api.post("/api/v1/test-book").status_code == 401
    unverified = make_user("new@example.com", verified=False)
    login(unverified)
    response = api.post("/api/v1/test-book")
    assert response.status_code == 403 and "Verify" in response.json["error"]["message"]
    assert client.get("/test-book-page").headers["Location"].startswith("/verify")
    with app.app_context():
        from api.tables import utcnow

        db.session.get(User, unverified.id).email_verified_at = utcnow()
        db.session.commit()
    assert api.post("/api/v1/test-book").status_code == 403  # the phone too
    with app.app_context():
        db.session.get(User, unverified.id).phone_verified_at = utcnow()
        db.session.commit()
    assert api.post("/api/v1/test-book").json == {"booked": True}


@pytest.mark.db
def test_codes_and_mails_are_limited_per_account_and_a_new_address_needs_the_password(app, api, settings,
                                                                                     make_user, login):
    """Issue 17, item 6: two phone numbers in turn, resending the link, and moving the account to another
    address: at most `otp_send_limit` texts and `email_send_limit` mails per account; the address moves only
    with the current password, the old address is told, and the new one takes effect once its link is opened."""
    login(make_user("ana@example.com", full_name="Ana Owner", verified=False))
    numbers = ["+447700900111", "+447700900222"]
    phones = [api.put("/api/v1/profile/learner", json={"phone": numbers[n % 2]}).status_code for n in range(10)]
    # refused from the sixth: the account keeps the fifth number, so every second request changes nothing (200)
    assert phones == [200] * 5 + [429, 200] * 2 + [429]
    assert len(outbox(settings, "sms")) == 5

    no_password = api.put("/api/v1/profile/learner", json={"email": "eve@example.com"})
    wrong = api.put("/api/v1/profile/learner", json={"email": "eve@example.com", "current_password": "not it at all"})
    assert no_password.status_code == wrong.status_code == 400
    assert "current_password" in wrong.json["error"]["fields"]
    assert outbox(settings, "email") == []
    moved = api.put("/api/v1/profile/learner", json={"email": "eve@example.com", "current_password": PASSWORD})
    assert moved.status_code == 200 and _me(api)["email"] == "ana@example.com"  # not yet
    notice = outbox(settings, "email", "email_change_notice")
    assert [m["to"] for m in notice] == ["ana@example.com"] and "e***@example.com" in notice[0]["body"]
    assert outbox(settings, "email", "verify_email")[-1]["to"] == "eve@example.com"

    resends = [api.post("/api/v1/auth/verify/email/resend").status_code for _ in range(6)]
    assert resends == [200] * 4 + [429] * 2  # five mails per hour per account, the change's link included
    assert len(outbox(settings, "email", "verify_email")) == 5

    token = last_link(settings, "verify_email")
    change_link = [m for m in outbox(settings, "email", "verify_email") if m["to"] == "eve@example.com"][0]
    change_token = change_link["body"].split("/verify/email/", 1)[1].split()[0]
    assert token  # (the resent links are for the current address)
    assert api.post("/api/v1/auth/verify/email", json={"token": change_token}).status_code == 200
    me = _me(api)
    assert me["email"] == "eve@example.com" and me["email_verified"] is True
