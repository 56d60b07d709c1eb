"""Admins in tests: a known TOTP secret, and clients that signed in with password and code."""
from __future__ import annotations

import re

import pyotp

from tests.api.auth.accounts_helpers import JsonClient

PASSWORD = "correct horse battery staple"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def enrol(app, user_id: int, secret: str = SECRET) -> str:
    """Give the admin a confirmed TOTP secret (as if they had enrolled)."""
    from api.auth import twofactor

    with app.app_context():
        twofactor.set_secret(user_id, secret)
    return secret


def code(secret: str = SECRET, offset_steps: int = 0) -> str:
    totp = pyotp.TOTP(secret)
    import time

    return totp.at(time.time() + offset_steps * totp.interval)


def admin_api_client(app, user, secret: str = SECRET) -> JsonClient:
    """A JSON client logged in through /api/v1/auth/login with password and TOTP code."""
    enrol(app, user.id, secret)
    client = JsonClient(app.test_client())
    response = client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD,
                                                        "totp_code": code(secret)})
    assert response.status_code == 200, response.get_json()
    return client


def form_token(html: str) -> str:
    return (re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
            or re.search(r'name="csrf_token" value="([^"]+)"', html)).group(1)


def web_login(client, email: str, password: str = PASSWORD):
    page = client.get("/login").get_data(as_text=True)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": form_token(page)})


def pass_second_factor(client) -> None:
    """Mark a test client's injected admin session as having passed TOTP (as `start_admin_session` does)."""
    from api.auth.twofactor import PASSED_KEY

    with client.session_transaction() as session:
        session[PASSED_KEY] = session["_user_id"]  # "<id>:<session version>", the marker of twofactor.passed
