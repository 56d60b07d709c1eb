"""A new mentor's journey past the approval queue: the languages they speak (found by the search filter), and the
page the approval e-mail links to, complete with Book and Message buttons and the mentor's reviews."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from api.extensions import db
from api.tables import Booking, BookingStatus, MentorProfile
from tests.api.auth.accounts_helpers import JsonClient, form_token, last_link

PASSWORD = "correct horse battery staple"


@pytest.fixture
def admin(app, make_user):
    from tests.api.admin.admin_helpers import admin_api_client

    return admin_api_client(app, make_user("root@example.com", roles=("admin",), full_name="Ada Admin"))


@pytest.fixture
def new_mentor(app, make_user):
    """A mentor account without a profile yet, logged in."""
    user = make_user("mara@example.com", roles=("mentor",), full_name="Mara Mentor")
    client = JsonClient(app.test_client())
    client.login("mara@example.com", PASSWORD)
    return user, client


def _search_ids(app, query: str) -> list[int]:
    response = app.test_client().get("/api/v1/mentors?" + query)
    assert response.status_code == 200, response.get_json()
    return [m["id"] for m in response.get_json()["mentors"]]


@pytest.mark.db
def test_a_new_mentor_sets_the_languages_they_speak_and_the_filter_finds_them(app, admin, new_mentor, topics):
    mentor, client = new_mentor
    page = client.get("/mentor/profile").get_data(as_text=True)
    assert "Languages you speak" in page and 'value="es"' in page
    data = {"csrf_token": form_token(client.client, "/mentor/profile"), "full_name": "Mara Mentor",
            "email": "mara@example.com", "phone": "", "timezone": "Europe/Madrid", "headline": "Statistics tutor",
            "bio": "Hi", "topic_ids": [str(topics[1])], "languages": ["es", "en"], "price": "30", "currency": "EUR",
            "session_minutes": "60", "years_experience": "4", "past_roles": "", "video_url": "",
            "availability-0-weekday": "1", "availability-0-start": "17:00", "availability-0-end": "19:00"}
    assert client.client.post("/mentor/profile", data=data).status_code == 302
    assert client.get("/api/v1/profile/mentor").json["languages"] == ["es", "en"]
    page = client.get("/mentor/profile").get_data(as_text=True)
    checked = set(re.findall(r'<input checked id="languages-\d+" name="languages" type="checkbox" value="(\w+)"', page))
    assert checked == {"es", "en"}  # the form shows what is saved

    assert admin.post(f"/api/v1/admin/mentors/{mentor.id}/approve").status_code == 200
    assert mentor.id in _search_ids(app, "language=es") and mentor.id in _search_ids(app, "language=en")
    assert mentor.id not in _search_ids(app, "language=fr")

    changed = client.put("/api/v1/profile/mentor", json={"languages": ["fr"]})  # the JSON API sets them too
    assert changed.status_code == 200 and changed.json["languages"] == ["fr"]
    assert mentor.id in _search_ids(app, "language=fr") and mentor.id not in _search_ids(app, "language=es")
    assert "Speaks French" in app.test_client().get(f"/mentors/{mentor.id}/preview").get_data(as_text=True)

    for wrong in (["xx"], "fr", [1]):
        refused = client.put("/api/v1/profile/mentor", json={"languages": wrong})
        assert refused.status_code in (400, 422) and "languages" in str(refused.json["error"]), wrong
    assert client.get("/api/v1/profile/mentor").json["languages"] == ["fr"]


@pytest.mark.db
def test_the_approval_email_leads_to_a_page_with_book_message_and_reviews(app, admin, new_mentor, make_user,
                                                                          mentor_payload, settings):
    mentor, mentor_client = new_mentor
    assert mentor_client.put("/api/v1/profile/mentor", json=mentor_payload).status_code == 200
    make_user("leo@example.com", full_name="Leo Learner")
    learner = JsonClient(app.test_client())
    learner.login("leo@example.com", PASSWORD)
    assert admin.post(f"/api/v1/admin/mentors/{mentor.id}/approve").status_code == 200

    link = last_link(settings, "mentor_review")  # "See your public page: ..."
    anonymous = app.test_client().get(link, follow_redirects=True)
    assert anonymous.status_code == 200
    html = anonymous.get_data(as_text=True)
    assert "Mara Mentor" in html and f'href="/bookings/mentors/{mentor.id}/book"' in html and "Book a session" in html
    assert f'action="/chat/with/{mentor.id}"' in html  # anonymous visitors are asked to log in first
    assert "Reviews" in html and "No reviews yet" in html

    own = mentor_client.get(link, follow_redirects=True).get_data(as_text=True)  # the mentor sees their own page
    assert "Mara Mentor" in own and "Book a session" not in own and f'action="/chat/with/{mentor.id}"' not in own

    # before any booking, a mentor who takes no questions cannot be messaged: say so instead of a dead button
    html = learner.get(link, follow_redirects=True).get_data(as_text=True)
    assert "You can message Mara Mentor once you have requested a session." in html
    assert f'action="/chat/with/{mentor.id}"' not in html
    with app.app_context():
        profile = db.session.get(MentorProfile, mentor.id)
        profile.accepts_questions = True
        db.session.commit()
    html = learner.get(link, follow_redirects=True).get_data(as_text=True)
    assert f'action="/chat/with/{mentor.id}"' in html
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    opened = learner.client.post(f"/chat/with/{mentor.id}", data={"csrf_token": token})
    assert opened.status_code == 302 and "/chat/rooms/dm-" in opened.headers["Location"]

    with app.app_context():  # a session that took place, which the learner rates from its link
        ended = datetime.now(timezone.utc) - timedelta(days=1)
        booking = Booking(mentor_id=mentor.id, learner_id=learner.get("/api/v1/profile/learner").json["user_id"],
                          starts_at=ended - timedelta(hours=1), ends_at=ended, status=BookingStatus.COMPLETED,
                          price_minor=4550, currency="EUR")
        db.session.add(booking)
        db.session.commit()
        booking_id = booking.id
    review = f"/bookings/{booking_id}/review"
    assert learner.client.post(review, data={"csrf_token": form_token(learner.client, review), "rating": "5",
                                             "text": "Patient and precise."}).status_code == 302
    html = app.test_client().get(link, follow_redirects=True).get_data(as_text=True)
    assert "Patient and precise." in html and "(1 review)" in html
