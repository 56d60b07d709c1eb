"""Review rules: who may review, when, how often; replies, reports, hiding, learner ratings, escaping."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from api.extensions import db
from api.reviews import service
from api.tables import Booking, BookingStatus, Event, EventType, LearnerRating, MentorProfile, Review, User, utcnow
from tests.api.search.discovery_helpers import build_world, completed_booking, csrf_headers
from tests.api.admin.admin_helpers import pass_second_factor

pytestmark = pytest.mark.db


@pytest.fixture
def setup(app, make_user):
    with app.app_context():
        world = build_world()
        now = utcnow()
        done = completed_booking(world.ada, world.learner, now - timedelta(days=1)).id
        upcoming = completed_booking(world.ada, world.learner, now + timedelta(days=3), status=BookingStatus.ACCEPTED).id
        db.session.commit()
        learner = db.session.get(User, world.learner)
        db.session.expunge(learner)
    other = make_user("other@example.com", roles=("learner",))
    admin = make_user("admin@example.com", roles=("admin",))
    return world, learner, other, admin, done, upcoming


def _aggregate(app, mentor_id):
    with app.app_context():
        profile = db.session.get(MentorProfile, mentor_id)
        return profile.rating_count, profile.rating_sum


def _mentor_user(app, mentor_id):
    with app.app_context():
        user = db.session.get(User, mentor_id)
        db.session.expunge(user)
        return user


def test_only_the_bookings_learner_after_completion_once(app, client, login, setup):
    world, learner, other, _admin, done, upcoming = setup
    before = _aggregate(app, world.ada)
    login(other)
    headers = csrf_headers(client)
    response = client.post(f"/api/v1/bookings/{done}/review", json={"rating": 5}, headers=headers)
    assert response.status_code == 403

    login(learner)
    headers = csrf_headers(client)
    assert client.post(f"/api/v1/bookings/{upcoming}/review", json={"rating": 5}, headers=headers).status_code == 409
    bad = client.post(f"/api/v1/bookings/{done}/review", json={"rating": 6}, headers=headers)
    assert bad.status_code == 400 and "rating" in bad.get_json()["error"]["fields"]
    created = client.post(f"/api/v1/bookings/{done}/review", json={"rating": 4, "text": "Very clear."}, headers=headers)
    assert created.status_code == 201
    again = client.post(f"/api/v1/bookings/{done}/review", json={"rating": 5}, headers=headers)
    assert again.status_code == 409
    assert _aggregate(app, world.ada) == (before[0] + 1, before[1] + 4)
    with app.app_context():
        events = db.session.scalars(sa.select(Event).where(Event.event_type == EventType.RATING)).all()
        assert [(e.payload["action"], e.payload["rating"], e.mentor_id, e.booking_id) for e in events] == \
            [("created", 4, world.ada, done)]


def test_anonymous_cannot_review(client, setup):
    _world, _learner, _other, _admin, done, _upcoming = setup
    headers = csrf_headers(client)
    assert client.post(f"/api/v1/bookings/{done}/review", json={"rating": 5}, headers=headers).status_code == 401


def test_edit_within_fourteen_days_moves_the_aggregate(app, setup):
    world, learner, other, _admin, done, _upcoming = setup
    with app.app_context():
        start = _aggregate(app, world.ada)
        review = service.create_review(done, db.session.get(User, learner.id), 2, "meh")
        service.edit_review(review.id, db.session.get(User, learner.id), 5, "Actually great",
                            now=review.created_at + timedelta(days=13))
        assert _aggregate(app, world.ada) == (start[0] + 1, start[1] + 5)
        with pytest.raises(service.ReviewError) as late:
            service.edit_review(review.id, db.session.get(User, learner.id), 1, "",
                                now=review.created_at + timedelta(days=14, minutes=1))
        assert late.value.status == 409
        with pytest.raises(service.ReviewError) as stranger:
            service.edit_review(review.id, db.session.get(User, other.id), 1, "")
        assert stranger.value.status == 403


def test_mentor_replies_once_and_only_the_mentor(app, client, login, setup):
    world, learner, other, _admin, done, _upcoming = setup
    with app.app_context():
        review_id = service.create_review(done, db.session.get(User, learner.id), 5, "Thanks!").id
    login(other)
    headers = csrf_headers(client)
    assert client.post(f"/api/v1/reviews/{review_id}/reply", json={"text": "hi"}, headers=headers).status_code == 403
    login(_mentor_user(app, world.ada))
    headers = csrf_headers(client)
    first = client.post(f"/api/v1/reviews/{review_id}/reply", json={"text": "Glad it helped!"}, headers=headers)
    assert first.status_code == 200 and first.get_json()["mentor_reply"] == "Glad it helped!"
    second = client.post(f"/api/v1/reviews/{review_id}/reply", json={"text": "Again"}, headers=headers)
    assert second.status_code == 409


def test_reports_and_admin_hiding(app, client, login, setup):
    world, learner, other, admin, done, _upcoming = setup
    with app.app_context():
        review_id = service.create_review(done, db.session.get(User, learner.id), 1, "Spam spam spam").id
    after_review = _aggregate(app, world.ada)
    login(other)
    headers = csrf_headers(client)
    assert client.post(f"/api/v1/reviews/{review_id}/report", json={"reason": "spam"}, headers=headers).status_code == 201
    assert client.post(f"/api/v1/reviews/{review_id}/report", json={"reason": "spam"}, headers=headers).status_code == 409
    assert client.post(f"/api/v1/admin/reviews/{review_id}/hide", headers=headers).status_code == 403
    login(admin)
    pass_second_factor(client)  # admins: the session passed TOTP
    headers = csrf_headers(client)
    queue = client.get("/api/v1/admin/reviews/reported").get_json()["reviews"]
    assert [(r["id"], r["reported_count"]) for r in queue] == [(review_id, 1)]
    assert client.post(f"/api/v1/admin/reviews/{review_id}/hide", headers=headers).status_code == 200
    assert _aggregate(app, world.ada) == (after_review[0] - 1, after_review[1] - 1)
    preview = client.get(f"/api/v1/mentors/{world.ada}/preview").get_json()
    assert preview["reviews"] == [] and preview["rating_distribution"]["1"] == 0
    assert client.post(f"/api/v1/admin/reviews/{review_id}/unhide", headers=headers).status_code == 200
    assert _aggregate(app, world.ada) == after_review


def test_mentor_rates_learner_privately_once(app, client, login, setup):
    world, learner, _other, _admin, done, upcoming = setup
    login(learner)
    headers = csrf_headers(client)
    assert client.post(f"/api/v1/bookings/{done}/learner-rating", json={"rating": 5}, headers=headers).status_code == 403
    login(_mentor_user(app, world.ada))
    headers = csrf_headers(client)
    assert client.post(f"/api/v1/bookings/{upcoming}/learner-rating", json={"rating": 5},
                       headers=headers).status_code == 409
    assert client.post(f"/api/v1/bookings/{done}/learner-rating", json={"rating": 4, "note": "Prepared well"},
                       headers=headers).status_code == 201
    assert client.post(f"/api/v1/bookings/{done}/learner-rating", json={"rating": 5},
                       headers=headers).status_code == 409
    with app.app_context():
        assert service.learner_rating_summary(learner.id) == (4.0, 1)
        event = db.session.scalars(sa.select(Event).where(Event.event_type == EventType.RATING)).one()
        assert event.payload["kind"] == "learner_rating" and event.user_id == learner.id
    preview = client.get(f"/api/v1/mentors/{world.ada}/preview").get_data(as_text=True)
    assert "Prepared well" not in preview


def test_review_text_is_escaped_everywhere(app, client, login, setup):
    world, learner, _other, _admin, done, _upcoming = setup
    attack = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    with app.app_context():
        review = service.create_review(done, db.session.get(User, learner.id), 5, attack)
        service.reply(review.id, db.session.get(User, world.ada), attack)
        db.session.get(MentorProfile, world.ada).headline = attack
        db.session.commit()
    for url in (f"/mentors/{world.ada}/preview", "/mentors?q=alert"):
        html = client.get(url).get_data(as_text=True)
        assert '<script>alert("x")' not in html and "<img src=x" not in html, url
        assert "&lt;script&gt;alert(" in html, url
    login(_mentor_user(app, world.ada))
    html = client.get("/reviews/received").get_data(as_text=True)
    assert '<script>alert("x")' not in html and "&lt;script&gt;" in html
    assert client.get(f"/api/v1/mentors/{world.ada}/reviews").get_json()["reviews"][0]["text"] == attack


def test_review_form_page_flow(app, client, login, setup):
    world, learner, _other, _admin, done, upcoming = setup
    login(learner)
    page = client.get(f"/bookings/{done}/review")
    assert page.status_code == 200 and b"How was your session with Ada Lovelace?" in page.data
    token = csrf_headers(client)["X-CSRFToken"]
    response = client.post(f"/bookings/{done}/review", data={"rating": "5", "text": "Loved it", "csrf_token": token})
    assert response.status_code == 302 and f"/mentors/{world.ada}/preview" in response.headers["Location"]
    missing = client.post(f"/bookings/{done}/review", data={"rating": "", "csrf_token": token})
    assert missing.status_code == 400 and b"Choose a rating" in missing.data
    with app.app_context():
        assert db.session.scalar(sa.select(Review.text).where(Review.booking_id == done)) == "Loved it"
