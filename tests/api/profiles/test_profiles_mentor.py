"""The mentor profile: submission to the queue, visibility, prices in minor units, exceptions, ownership, upgrade."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from api.extensions import db
from api.tables import (
    Booking,
    BookingStatus,
    Event,
    EventType,
    MentorProfile,
    MentorStatus,
    ModelSetting,
    User,
    utcnow,
)
from tests.api.auth.accounts_helpers import JsonClient, form_token

# Tests whose outcome depends on the database run on SQLite and PostgreSQL (`db`); the rest on SQLite.


@pytest.mark.db
def test_new_mentor_is_pending_and_invisible_to_learners(app, api, make_user, login, mentor_payload):
    mentor = make_user("mara@example.com", roles=("mentor",), full_name="Mara Mentor")
    login(mentor)
    response = api.put("/api/v1/profile/mentor", json=mentor_payload)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["status"] == "pending" and body["price_minor"] == 4550 and body["price"] == "€45.50"
    assert body["timezone"] == "Europe/Berlin" and len(body["availability"]) == 2
    anonymous = JsonClient(app.test_client())
    assert anonymous.get(f"/api/v1/mentors/{mentor.id}").status_code == 404
    assert anonymous.get(f"/mentors/{mentor.id}").status_code == 404
    learner = JsonClient(app.test_client())
    make_user("leo@example.com")
    learner.login("leo@example.com")
    assert learner.get(f"/api/v1/mentors/{mentor.id}").status_code == 404
    assert api.get(f"/api/v1/mentors/{mentor.id}").status_code == 200  # the mentor sees their own page
    with app.app_context():
        from api.profiles import visible_mentors_query

        assert db.session.scalars(visible_mentors_query()).all() == []
        event = db.session.scalars(select(Event).where(Event.event_type == EventType.PROFILE_UPDATE)).one()
        assert event.mentor_id == mentor.id and event.payload["created"] is True
        assert event.payload["topics"] == ["python", "statistics"] and event.payload["price_minor"] == 4550


def test_mentor_profile_needs_the_essentials_and_names_what_is_missing(api, make_user, login, mentor_payload):
    login(make_user("mara@example.com", roles=("mentor",)))
    for missing in ("headline", "topic_ids", "price_minor", "availability"):
        body = {k: v for k, v in mentor_payload.items() if k != missing}
        response = api.put("/api/v1/profile/mentor", json=body)
        assert response.status_code == 400 and missing in response.json["error"]["fields"], missing
    for field, value in (("currency", "XYZ"), ("price_minor", 0), ("price_minor", 12.5), ("session_minutes", 7),
                         ("years_experience", -1), ("video_url", "javascript:alert(1)")):
        response = api.put("/api/v1/profile/mentor", json={**mentor_payload, field: value})
        assert response.status_code == 400 and field in response.json["error"]["fields"], (field, value)
    assert api.get("/api/v1/profile/mentor").status_code == 404


def test_prices_are_integer_minor_units():
    from api.auth.accounts import FieldError
    from api.profiles.service import format_price, parse_price

    assert parse_price("45.50", "EUR") == 4550
    assert parse_price("1,500", "JPY") == 1500
    assert format_price(150000, "INR") == "₹1,500.00"  # the one money format
    for value, currency in (("45.505", "USD"), ("1500.5", "JPY"), ("-3", "USD"), ("abc", "USD"), ("NaN", "USD")):
        with pytest.raises(FieldError) as error:
            parse_price(value, currency)
        assert error.value.field == "price"


def test_web_mentor_form_submits_to_the_queue(app, client, make_user, login, topics):
    mentor = make_user("mara@example.com", roles=("mentor",), full_name="Mara Mentor")
    login(mentor)
    page = client.get("/mentor/profile").get_data(as_text=True)
    assert "Become a mentor" in page and "Submit for review" in page
    token = form_token(client, "/mentor/profile")
    data = {"csrf_token": token, "full_name": "Mara Mentor", "email": "mara@example.com", "phone": "",
            "timezone": "America/New_York", "headline": "Statistics tutor", "bio": "Hi",
            "topic_ids": [str(topics[1])], "price": "30", "currency": "USD", "session_minutes": "45",
            "years_experience": "4", "past_roles": "Analyst at Acme\n\nLecturer", "video_url": "",
            "availability-0-weekday": "1", "availability-0-start": "17:00", "availability-0-end": "19:00"}
    no_price = client.post("/mentor/profile", data={**data, "price": ""})
    assert no_price.status_code == 400 and "Set a price per session" in no_price.get_data(as_text=True)
    assert client.post("/mentor/profile", data=data).status_code == 302
    page = client.get("/mentor/profile").get_data(as_text=True)
    assert "Waiting for review" in page
    profile = client.get("/api/v1/profile/mentor").json
    assert profile["price_minor"] == 3000 and profile["session_minutes"] == 45
    assert profile["past_roles"] == ["Analyst at Acme", "Lecturer"]
    assert profile["availability"] == [{"weekday": 1, "start": "17:00", "end": "19:00"}]


@pytest.mark.db
def test_exceptions_and_certifications_belong_to_their_mentor(app, api, make_user, login, mentor_payload):
    login(make_user("mara@example.com", roles=("mentor",)))
    api.put("/api/v1/profile/mentor", json=mentor_payload)
    day = (date.today() + timedelta(days=10)).isoformat()
    off = api.post("/api/v1/profile/mentor/exceptions", json={"on_date": day, "note": "Holiday"})
    assert off.status_code == 201
    half = api.post("/api/v1/profile/mentor/exceptions",
                    json={"on_date": day, "start_time": "13:00", "end_time": "15:00"})
    assert half.status_code == 201
    past = api.post("/api/v1/profile/mentor/exceptions", json={"on_date": "2000-01-01"})
    assert past.status_code == 400 and "on_date" in past.json["error"]["fields"]
    one_sided = api.post("/api/v1/profile/mentor/exceptions", json={"on_date": day, "start_time": "13:00"})
    assert one_sided.status_code == 400 and "end_time" in one_sided.json["error"]["fields"]
    cert = api.post("/api/v1/profile/mentor/certifications", data={"name": "AWS Solutions Architect",
                                                                   "issuer": "AWS", "year": "2022"})
    assert cert.status_code == 201
    assert len(api.get("/api/v1/profile/mentor").json["exceptions"]) == 2

    other = JsonClient(app.test_client())
    make_user("other@example.com", roles=("mentor",))
    other.login("other@example.com")
    assert other.delete(f"/api/v1/profile/mentor/exceptions/{off.json['id']}").status_code == 404
    assert other.delete(f"/api/v1/profile/mentor/certifications/{cert.json['id']}").status_code == 404
    token = form_token(other.client, "/account")
    assert other.client.post(f"/mentor/certifications/{cert.json['id']}/delete",
                             data={"csrf_token": token}).status_code == 404
    assert api.delete(f"/api/v1/profile/mentor/exceptions/{off.json['id']}").status_code == 204
    assert api.delete(f"/api/v1/profile/mentor/certifications/{cert.json['id']}").status_code == 204


def _complete_sessions(app, learner_id: int, count: int) -> None:
    with app.app_context():
        teacher = User(email="teacher@example.com", full_name="Tess Teacher")
        db.session.add(teacher)
        db.session.flush()
        db.session.add(MentorProfile(user_id=teacher.id, price_minor=1000, currency="USD",
                                     status=MentorStatus.APPROVED))
        db.session.flush()
        start = utcnow() - timedelta(days=60)
        for n in range(count):
            db.session.add(Booking(learner_id=learner_id, mentor_id=teacher.id, status=BookingStatus.COMPLETED,
                                   starts_at=start + timedelta(days=n), ends_at=start + timedelta(days=n, hours=1),
                                   price_minor=1000, currency="USD"))
        db.session.get(User, learner_id).created_at = utcnow() - timedelta(days=45)
        db.session.commit()


@pytest.mark.db
def test_learner_becomes_mentor_when_the_criteria_are_met(app, api, client, make_user, login, mentor_payload):
    learner = make_user("leo@example.com", full_name="Leo Learner")
    login(learner)
    status = api.get("/api/v1/profile/upgrade").json
    assert status["eligible"] is False
    assert {c["key"]: c["met"] for c in status["checks"]} == {
        "completed_sessions": False, "rating": True, "account_age": False, "verified": True}
    assert api.put("/api/v1/profile/mentor", json=mentor_payload).status_code == 403
    assert client.get("/mentor/profile").headers["Location"] == "/become-a-mentor"
    assert "Become a mentor" not in client.get("/profile").get_data(as_text=True).split("</nav>")[1]

    _complete_sessions(app, learner.id, 5)
    assert api.get("/api/v1/profile/upgrade").json["eligible"] is True
    assert "Become a mentor" in client.get("/profile").get_data(as_text=True)
    response = api.put("/api/v1/profile/mentor", json=mentor_payload)
    assert response.status_code == 200 and response.json["status"] == "pending"
    assert set(api.get("/api/v1/auth/me").json["roles"]) == {"learner", "mentor"}


@pytest.mark.db
def test_upgrade_criteria_are_admin_configurable(app, api, make_user, login):
    learner = make_user("leo@example.com")
    from tests.api.admin.admin_helpers import admin_api_client

    admin = admin_api_client(app, make_user("root@example.com", roles=("admin",)))  # password and TOTP code
    login(learner)
    assert api.put("/api/v1/admin/upgrade-criteria", json={"min_completed_sessions": 0}).status_code == 403
    changed = admin.put("/api/v1/admin/upgrade-criteria", json={"min_completed_sessions": 0,
                                                                 "min_account_age_days": 0})
    assert changed.status_code == 200 and changed.json["min_completed_sessions"] == 0
    bad = admin.put("/api/v1/admin/upgrade-criteria", json={"min_average_rating": 9})
    assert bad.status_code == 400 and "min_average_rating" in bad.json["error"]["fields"]
    assert api.get("/api/v1/profile/upgrade").json["eligible"] is True
    with app.app_context():
        assert db.session.get(ModelSetting, "upgrade_criteria").value["min_account_age_days"] == 0
