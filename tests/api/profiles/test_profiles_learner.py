"""The learner profile: web form and JSON API, validation naming the field, events for the ML pipeline."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from api.extensions import db
from api.tables import Event, EventType
from tests.api.auth.accounts_helpers import PASSWORD, form_token, last_link, outbox

# Tests whose outcome depends on the database run on SQLite and PostgreSQL (`db`); the rest on SQLite.


def _profile_events(app, user_id):
    with app.app_context():
        return [e.payload for e in db.session.scalars(
            select(Event).where(Event.user_id == user_id, Event.event_type == EventType.PROFILE_UPDATE)
            .order_by(Event.id))]


@pytest.mark.db
def test_learner_profile_saves_and_logs_an_event(app, api, make_user, login, topics):
    user = make_user("ana@example.com")
    login(user)
    body = {"full_name": "Ana Lovelace", "timezone": "Europe/London", "topic_ids": [topics[0], topics[1]],
            "interests": "Data pipelines and Bayesian statistics",
            "preferred_slots": [{"weekday": 5, "start": "10:00", "end": "12:30"}]}
    response = api.put("/api/v1/profile/learner", json=body)
    assert response.status_code == 200, response.json
    profile = api.get("/api/v1/profile/learner").json
    assert profile["full_name"] == "Ana Lovelace" and profile["timezone"] == "Europe/London"
    assert [t["slug"] for t in profile["topics"]] == ["python", "statistics"]
    assert profile["preferred_slots"] == [{"weekday": 5, "start": "10:00", "end": "12:30"}]
    events = _profile_events(app, user.id)
    assert len(events) == 1
    assert events[0]["role"] == "learner" and events[0]["topics"] == ["python", "statistics"]
    assert events[0]["interests"] == "Data pipelines and Bayesian statistics"
    assert set(events[0]["changed"]) >= {"full_name", "topics", "interests", "preferred_slots", "timezone"}
    api.put("/api/v1/profile/learner", json=body)  # nothing changed: no new event
    assert len(_profile_events(app, user.id)) == 1


BAD_LEARNER_INPUT = [
    ({"timezone": "Mars/Olympus"}, "timezone", "time zone"),
    ({"topic_ids": [99999]}, "topic_ids", "does not exist"),
    ({"preferred_slots": [{"weekday": 1, "start": "10:00", "end": "09:00"}]}, "preferred_slots", "end after"),
    ({"preferred_slots": [{"weekday": 1, "start": "09:00", "end": "11:00"},
                          {"weekday": 1, "start": "10:00", "end": "12:00"}]}, "preferred_slots", "overlap"),
    ({"preferred_slots": [{"weekday": 7, "start": "09:00", "end": "11:00"}]}, "preferred_slots", ""),
    ({"preferred_slots": [{"weekday": 1, "start": "25:00", "end": "26:00"}]}, "preferred_slots", "24-hour"),
    ({"email": "not an email"}, "email", "valid e-mail"),
    ({"email": "bob@example.com"}, "current_password", "current password"),
    ({"phone": "12"}, "phone", "international"),
    ({"full_name": ""}, "full_name", ""),
]


@pytest.mark.db
def test_learner_profile_rejects_bad_input_naming_the_field(api, make_user, login, topics):
    make_user("bob@example.com")
    login(make_user("ana@example.com"))
    for body, field, message in BAD_LEARNER_INPUT:
        response = api.put("/api/v1/profile/learner", json=body)
        assert response.status_code == 400, body
        fields = response.json["error"]["fields"]
        assert field in fields, (body, fields)
        assert message.lower() in str(fields[field]).lower(), (body, fields)


def test_new_email_takes_effect_once_verified(api, settings, make_user, login):
    login(make_user("ana@example.com"))
    assert api.get("/api/v1/auth/me").json["email_verified"] is True
    changed = api.put("/api/v1/profile/learner", json={"email": "ana.new@example.com", "current_password": PASSWORD})
    assert changed.status_code == 200
    me = api.get("/api/v1/auth/me").json
    assert me["email"] == "ana@example.com" and me["email_verified"] is True  # until the new address is proven
    assert outbox(settings, "email", "verify_email")[-1]["to"] == "ana.new@example.com"
    token = last_link(settings, "verify_email").rsplit("/", 1)[1]
    assert api.post("/api/v1/auth/verify/email", json={"token": token}).status_code == 200
    me = api.get("/api/v1/auth/me").json
    assert me["email"] == "ana.new@example.com" and me["email_verified"] is True


def test_web_learner_profile_form(app, client, make_user, login, topics):
    user = make_user("ana@example.com")
    login(user)
    page = client.get("/profile")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Your learner profile" in html
    assert 'for="topic-%d"' % topics[0] in html and '<label for="interests">' in html
    token = form_token(client, "/profile")
    data = {"csrf_token": token, "full_name": "Ana Lovelace", "email": "ana@example.com", "phone": "+447700900123",
            "timezone": "Asia/Kolkata", "topic_ids": [str(topics[2])], "interests": "Jazz guitar",
            "preferred_slots-0-weekday": "6", "preferred_slots-0-start": "18:00", "preferred_slots-0-end": "20:00",
            "preferred_slots-1-weekday": "", "preferred_slots-1-start": "", "preferred_slots-1-end": ""}
    response = client.post("/profile", data=data)
    assert response.status_code == 302
    profile = client.get("/api/v1/profile/learner").json
    assert profile["timezone"] == "Asia/Kolkata" and [t["slug"] for t in profile["topics"]] == ["guitar"]
    assert profile["preferred_slots"] == [{"weekday": 6, "start": "18:00", "end": "20:00"}]
    data.update({"preferred_slots-0-end": "17:00"})
    bad = client.post("/profile", data=data)
    assert bad.status_code == 400 and "must end after it starts" in bad.get_data(as_text=True)


def test_profile_needs_login(client, api):
    assert client.get("/profile").headers["Location"].startswith("/login")
    assert api.put("/api/v1/profile/learner", json={"interests": "x"}).status_code == 401


def test_web_form_changes_the_email_only_with_the_password_and_after_the_link(app, client, settings, make_user,
                                                                              login, topics):
    login(make_user("ana@example.com"))
    page = client.get("/profile").get_data(as_text=True)
    assert 'name="current_password"' in page
    base = {"csrf_token": form_token(client, "/profile"), "full_name": "Test User", "email": "ana.new@example.com",
            "phone": "", "timezone": "UTC"}
    refused = client.post("/profile", data=base)
    assert refused.status_code == 400 and "current password" in refused.get_data(as_text=True)
    saved = client.post("/profile", data={**base, "current_password": PASSWORD}, follow_redirects=True)
    assert saved.status_code == 200 and "We sent a link to ana.new@example.com" in saved.get_data(as_text=True)
    assert outbox(settings, "email", "email_change_notice")[0]["to"] == "ana@example.com"
    assert 'value="ana@example.com"' in saved.get_data(as_text=True)
