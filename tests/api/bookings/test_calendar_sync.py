"""Google Calendar sync against the discovery document shipped in google-api-python-client (HttpMockSequence)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlparse

import pytest
import responses
import sqlalchemy as sa
from googleapiclient.http import HttpMockSequence

from api.extensions import db
from api.tables import CalendarConnection, CalendarEventLink, Notification

SLOT = "2026-03-03T08:00:00Z"  # Tuesday 09:00 Berlin
NO_BUSY = ({"status": "200", "content-type": "application/json"}, json.dumps({"calendars": {"primary": {"busy": []}}}))


def ok(body: dict) -> tuple[dict, str]:
    return {"status": "200", "content-type": "application/json"}, json.dumps(body)


@pytest.fixture
def google(app, settings):
    """Connect users to Google and script Google's answers: google.connect(person); google.script([...])."""
    settings.google_client_id, settings.google_client_secret = "client-id", "client-secret"

    class Google:
        mock = HttpMockSequence([])

        def script(self, answers):
            self.mock = HttpMockSequence(list(answers))
            return self.mock

        def connect(self, person, expires_in=timedelta(hours=1)):
            with app.app_context():
                db.session.add(CalendarConnection(user_id=person.id, provider="google", calendar_id="primary",
                                                  access_token="access-1", refresh_token="refresh-1",
                                                  token_expires_at=datetime.now(timezone.utc) + expires_in,  # Google's client: machine time
                                                  scopes="calendar"))
                db.session.commit()

        def calls(self):
            return [(method, urlparse(uri).path) for uri, method, _, _ in self.mock.request_sequence]

    google = Google()
    app.config["BOOKINGS_GOOGLE_HTTP"] = lambda connection: google.mock
    return google


def test_confirmed_session_is_created_moved_and_deleted(app, clock, mentor, learner, as_user, google):
    google.connect(mentor)
    google.script([
        NO_BUSY,  # freebusy while the learner requests
        ok({"id": "evt-1"}),  # insert at accept
        NO_BUSY,  # freebusy for the new time
        ok({"id": "evt-1"}),  # patch after the reschedule
        ({"status": "204"}, ""),  # delete after the cancellation
    ])
    booking = as_user(learner).post("/api/v1/bookings", json={"mentor_id": mentor.id, "starts_at": SLOT}).json
    mentor_client = as_user(mentor)
    accepted = mentor_client.post(f"/api/v1/bookings/{booking['id']}/accept").json
    with app.app_context():
        link = db.session.scalars(sa.select(CalendarEventLink)).one()
        assert (link.user_id, link.external_event_id) == (mentor.id, "evt-1")
    moved = mentor_client.post(f"/api/v1/bookings/{booking['id']}/reschedule", json={"starts_at": "2026-03-04T08:00:00Z"})
    assert moved.status_code == 200
    mentor_client.post(f"/api/v1/bookings/{booking['id']}/cancel", json={"reason": "Conference"})
    assert google.calls() == [
        ("POST", "/calendar/v3/freeBusy"),
        ("POST", "/calendar/v3/calendars/primary/events"),
        ("POST", "/calendar/v3/freeBusy"),
        ("PATCH", "/calendar/v3/calendars/primary/events/evt-1"),
        ("DELETE", "/calendar/v3/calendars/primary/events/evt-1"),
    ]
    inserted = json.loads(google.mock.request_sequence[1][2])
    assert inserted["start"] == {"dateTime": "2026-03-03T08:00:00Z", "timeZone": "Europe/Berlin"}
    assert inserted["location"] == accepted["video_link"] and accepted["video_link"] in inserted["description"]
    assert inserted["extendedProperties"]["private"]["mentorhub_booking_id"] == str(booking["id"])
    patched = json.loads(google.mock.request_sequence[3][2])
    assert patched["start"]["dateTime"] == "2026-03-04T08:00:00Z"
    with app.app_context():
        assert db.session.scalars(sa.select(CalendarEventLink)).all() == []


def test_freebusy_removes_busy_times_from_slots_and_requests(app, clock, mentor, learner, as_user, google):
    google.connect(mentor)
    busy = ok({"calendars": {"primary": {"busy": [{"start": "2026-03-03T08:30:00Z", "end": "2026-03-03T09:15:00Z"}]}}})
    google.script([busy, busy])
    client = as_user(learner)
    slots = client.get(f"/api/v1/bookings/mentors/{mentor.id}/slots?start=2026-03-03&days=1").json["slots"]
    assert [s["starts_at"] for s in slots] == ["2026-03-03T10:00:00Z"]  # 09:00 and 10:00 Berlin are busy
    refused = client.post("/api/v1/bookings", json={"mentor_id": mentor.id, "starts_at": SLOT})
    assert refused.status_code == 409 and "calendar" in refused.json["error"]["message"]
    body = json.loads(google.mock.request_sequence[0][2])
    assert body["items"] == [{"id": "primary"}] and body["timeMin"].endswith("Z")


def test_revoked_token_marks_the_connection_broken_and_tells_the_user(app, clock, mentor, learner, as_user,
                                                                      google, outbox):
    google.connect(mentor)
    google.script([
        ({"status": "401"}, json.dumps({"error": {"code": 401, "message": "Invalid Credentials"}})),
        ({"status": "400", "content-type": "application/json"},
         json.dumps({"error": "invalid_grant", "error_description": "Token has been expired or revoked."})),
    ])
    slots = as_user(learner).get(f"/api/v1/bookings/mentors/{mentor.id}/slots?start=2026-03-03&days=1")
    assert slots.status_code == 200 and len(slots.json["slots"]) == 3  # still offered, without busy times
    with app.app_context():
        connection = db.session.scalars(sa.select(CalendarConnection)).one()
        assert connection.status == "broken" and "revoked" in connection.status_reason
        notice = db.session.scalars(sa.select(Notification).where(Notification.user_id == mentor.id)).one()
        assert notice.kind == "calendar.broken"
    assert [m["kind"] for m in outbox() if m["to"] == "mentor@example.com"] == ["calendar.broken"]
    mentor_client = as_user(mentor)
    assert mentor_client.get("/api/v1/bookings/calendar").json["google"]["status"] == "broken"
    page = mentor_client.get("/bookings/").get_data(as_text=True)
    assert "Reconnect Google Calendar" in page
    # broken: no more calls to Google (the mock would raise IndexError on an unscripted call)
    assert as_user(learner).post("/api/v1/bookings", json={"mentor_id": mentor.id, "starts_at": SLOT}).status_code == 201


def test_expired_access_token_is_refreshed_and_stored(app, clock, mentor, learner, as_user, google):
    google.connect(mentor, expires_in=timedelta(hours=-1))
    google.script([ok({"access_token": "access-2", "expires_in": 3600, "token_type": "Bearer"}), NO_BUSY])
    assert as_user(learner).get(f"/api/v1/bookings/mentors/{mentor.id}/slots").status_code == 200
    assert google.calls()[0] == ("POST", "/token")
    assert google.mock.request_sequence[1][3]["authorization"] == "Bearer access-2"
    with app.app_context():
        connection = db.session.scalars(sa.select(CalendarConnection)).one()
        assert connection.access_token == "access-2" and connection.status == "connected"


@responses.activate
def test_oauth_connect_and_callback(app, clock, mentor, as_user, google, settings):
    client = as_user(mentor)
    start = client.get("/bookings/calendar/google/connect")
    assert start.status_code == 302
    target = urlparse(start.headers["Location"])
    query = parse_qs(target.query)
    assert target.netloc == "accounts.google.com" and query["access_type"] == ["offline"]
    assert "https://www.googleapis.com/auth/calendar.events" in query["scope"][0]
    responses.post(settings.google_oauth_token_url, json={"access_token": "a", "refresh_token": "r", "expires_in": 3599,
                                                          "scope": "calendar", "token_type": "Bearer"})
    forged = client.get("/bookings/calendar/google/callback?code=c&state=not-the-state")
    assert forged.status_code == 302
    with app.app_context():
        assert db.session.scalars(sa.select(CalendarConnection)).all() == []
    client.get("/bookings/calendar/google/connect")
    with client.client.session_transaction() as session:
        state = session["bookings_google_state"]
    done = client.get(f"/bookings/calendar/google/callback?code=c&state={state}")
    assert done.status_code == 302
    with app.app_context():
        connection = db.session.scalars(sa.select(CalendarConnection)).one()
        assert (connection.user_id, connection.access_token, connection.refresh_token) == (mentor.id, "a", "r")
    assert parse_qs(responses.calls[0].request.body)["grant_type"] == ["authorization_code"]
