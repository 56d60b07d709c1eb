"""Links in e-mails and calendar feeds follow the address the app is served on (or PUBLIC_BASE_URL when set)."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from icalendar import Calendar

from api.addresses import DEFAULT_SERVED_URL, served_url
from api.bookings.jobs import run_jobs
from tests.api.bookings.conftest import NOW, session_cookie
from tests.conftest import make_settings

SLOT = "2026-03-03T08:00:00Z"
SERVED = "http://mentorhub.test:5104"  # neither 127.0.0.1 nor port 5000


@pytest.fixture
def accepted(app, clock, mentor, learner, as_user):
    booking = as_user(learner).post("/api/v1/bookings", json={"mentor_id": mentor.id, "starts_at": SLOT}).json
    as_user(mentor).post(f"/api/v1/bookings/{booking['id']}/accept")
    return booking


def test_feed_url_and_ical_links_follow_the_address_of_the_request(app, accepted, learner, as_user):
    client = as_user(learner)
    client.client.set_cookie("session", session_cookie(app, learner.id), domain="mentorhub.test")
    feed = client.get("/api/v1/bookings/calendar", base_url=SERVED).json["feed_url"]
    assert feed.startswith(f"{SERVED}/bookings/feed/") and feed.endswith(".ics")
    body = app.test_client().get(urlsplit(feed).path, base_url=SERVED).data
    [event] = Calendar.from_ical(body).walk("VEVENT")
    assert f"{SERVED}/bookings/{accepted['id']}" in str(event["description"])
    assert "127.0.0.1:5000" not in body.decode()


def test_reminder_email_from_a_job_links_to_the_served_address(app, accepted, outbox):
    app.config["SERVED_URL"] = served_url("mentorhub.test", 5104)  # what `mentorhub serve --port 5104` sets
    with app.app_context():
        assert run_jobs(NOW)["reminded"] == 1
    reminders = [m for m in outbox() if m["kind"] == "booking.reminder"]
    assert reminders and all(m["body"].endswith(f"{SERVED}/bookings/{accepted['id']}") for m in reminders)


def test_a_configured_public_base_url_wins(tmp_path, database_url):
    from api import create_app
    from api.addresses import external_url, public_base_url

    app = create_app(settings=make_settings(tmp_path, database_url, public_base_url="https://mentorhub.example/"))
    app.config["SERVED_URL"] = SERVED
    with app.test_request_context("/", base_url="http://10.0.0.7:8000"):
        assert public_base_url() == "https://mentorhub.example"
        assert external_url("chat.room", slug="general") == "https://mentorhub.example/chat/rooms/general"
    with app.app_context():
        assert external_url("auth.login") == "https://mentorhub.example/login"


def test_outside_a_request_links_use_the_served_address_else_the_default(tmp_path, database_url):
    from api import create_app
    from api.addresses import external_url, public_base_url

    app = create_app(settings=make_settings(tmp_path, database_url))
    with app.app_context():
        assert public_base_url() == DEFAULT_SERVED_URL  # a command that serves nothing
        app.config["SERVED_URL"] = served_url("0.0.0.0", 5105)
        assert urlsplit(external_url("chat.room", slug="general")).port == 5105
        assert urlsplit(public_base_url()).hostname not in ("0.0.0.0", "")  # the machine's name, not the wildcard
    assert served_url("::1", 5104) == "http://[::1]:5104"
    assert served_url("example.org", 443, "https") == "https://example.org"


@pytest.mark.db
def test_a_forged_host_header_cannot_redirect_a_reset_link(app, settings, make_user):
    """A reset mail links to the address the server was started on, never to a Host header an attacker sent."""
    import re

    from tests.api.auth.accounts_helpers import outbox

    app.config["SERVED_URL"] = "http://127.0.0.1:5150"
    make_user("ana@example.com")
    forged = app.test_client()  # every request of this client says "Host: evil.example"
    token = forged.get("/api/v1/csrf-token", base_url="http://evil.example").json["csrf_token"]
    response = forged.post("/api/v1/auth/password/forgot", json={"email": "ana@example.com"},
                           headers={"X-CSRFToken": token}, base_url="http://evil.example")
    assert response.status_code < 300, response.json
    [mail] = [m for m in outbox(settings, "email") if m["to"] == "ana@example.com"]
    link = re.search(r"https?://\S+", mail["body"]).group(0)
    assert link.startswith("http://127.0.0.1:5150/") and "evil.example" not in mail["body"]
