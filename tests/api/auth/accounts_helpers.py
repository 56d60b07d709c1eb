"""Helpers for the account and profile tests: JSON calls with CSRF, the outbox, links and codes in it."""
from __future__ import annotations

import re

from api.notify import read_outbox

PASSWORD = "correct horse battery staple"  # the make_user fixture's default


class JsonClient:
    """The test client speaking JSON to /api/v1 with a fresh CSRF token in X-CSRFToken."""

    def __init__(self, client):
        self.client = client

    def token(self) -> str:
        return self.client.get("/api/v1/csrf-token").json["csrf_token"]

    def _send(self, method: str, url: str, **kwargs):
        headers = {"X-CSRFToken": self.token(), **kwargs.pop("headers", {})}
        return getattr(self.client, method)(url, headers=headers, **kwargs)

    def post(self, url, json=None, **kwargs):
        return self._send("post", url, json=json, **kwargs) if json is not None else self._send("post", url, **kwargs)

    def put(self, url, json=None, **kwargs):
        return self._send("put", url, json=json, **kwargs)

    def delete(self, url, **kwargs):
        return self._send("delete", url, **kwargs)

    def get(self, url, **kwargs):
        return self.client.get(url, **kwargs)

    def signup(self, email="ana@example.com", password=PASSWORD, phone="+44 7700 900123", role="learner",
               full_name="Ana Learner", log_in=True):
        """Sign up (202, no session: the answer is the same for a registered address); then, unless told not to,
        log in with the password and ask for the phone code, as a new user does before opening the link."""
        response = self.post("/api/v1/auth/signup", json={"email": email, "password": password, "phone": phone,
                                                           "role": role, "full_name": full_name})
        if log_in and response.status_code == 202:
            assert self.login(email, password).status_code == 200
            self.post("/api/v1/auth/verify/phone/send")
        return response

    def login(self, email="ana@example.com", password=PASSWORD, **kwargs):
        return self.post("/api/v1/auth/login", json={"email": email, "password": password}, **kwargs)


def outbox(settings, channel: str | None = None, kind: str | None = None) -> list[dict]:
    return [m for m in read_outbox(settings.outbox_path)
            if (channel is None or m["channel"] == channel) and (kind is None or m.get("kind") == kind)]


def last_link(settings, kind: str) -> str:
    """The path of the last link of this kind in the outbox (e.g. /verify/email/<token>)."""
    body = outbox(settings, "email", kind)[-1]["body"]
    url = re.search(r"https?://\S+", body).group(0)
    return "/" + url.split("/", 3)[3]


def last_code(settings) -> str:
    return re.search(r"\b(\d{6})\b", outbox(settings, "sms", "phone_otp")[-1]["body"]).group(1)


def form_token(client, url: str) -> str:
    """The CSRF token of the form on a page."""
    page = client.get(url).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)

