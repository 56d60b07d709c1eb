"""GET /api/v1/recommendations without any registered model: popularity, filters, reasons, exposures, attribution."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from api.extensions import db
from api.tables import Event, EventType, User
from tests.api.search.discovery_helpers import build_world, csrf_headers, next_weekday

pytestmark = pytest.mark.db
UTC = timezone.utc


@pytest.fixture
def world(app):
    with app.app_context():
        return build_world()


@pytest.fixture
def fresh(make_user, world):
    """A learner with no bookings (the world's learner has booked ada, ben and carla: never recommended to them)."""
    return make_user("fresh@example.com", roles=("learner",)).id


def _as(app, login, user_id):
    with app.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
    login(user)


def _events(app, kind):
    """Events of a kind, once the queued exposures are written (the writer batches them every few ms)."""
    from api.recommendations import exposures

    with app.app_context():
        assert exposures.flush_engine(db.engine)
        return db.session.scalars(sa.select(Event).where(Event.event_type == kind).order_by(Event.id)).all()


def test_no_model_serves_popularity_with_reasons_and_logs_the_exposure(app, client, login, world):
    _as(app, login, world.learner)
    response = client.get("/api/v1/recommendations?k=3")
    assert response.status_code == 200
    body = response.get_json()
    ids = [r["id"] for r in body["recommendations"]]
    assert ids and len(ids) <= 3
    assert world.eve not in ids and world.fay not in ids  # pending and deactivated mentors never appear
    assert body["ranking"] == "popularity" and body["fallback"]  # no registry: popularity, not an error
    assert all(r["reason"] for r in body["recommendations"])
    assert [r["position"] for r in body["recommendations"]] == list(range(1, len(ids) + 1))
    exposures = _events(app, EventType.EXPOSURE)
    assert len(exposures) == 1
    assert exposures[0].id == body["exposure_id"] and exposures[0].user_id == world.learner
    assert exposures[0].payload["mentor_ids"] == ids


def test_filters_topic_price_and_availability(app, client, login, world, fresh):
    _as(app, login, fresh)
    python = client.get("/api/v1/recommendations?topic=python").get_json()
    assert {r["id"] for r in python["recommendations"]} == {world.ada, world.ben}
    cheap = client.get("/api/v1/recommendations?price_max=40&currency=USD").get_json()
    assert world.dan not in {r["id"] for r in cheap["recommendations"]}  # 90 USD
    saturday = next_weekday(5, "Europe/Berlin")
    weekend = client.get(f"/api/v1/recommendations?available_from={saturday}&available_to={saturday}"
                         "&tz=Europe/Berlin").get_json()
    assert [r["id"] for r in weekend["recommendations"]] == [world.ben]  # the only one free on Saturday
    bad = client.get("/api/v1/recommendations?k=0")
    assert bad.status_code == 400


def test_only_logged_in_learners(app, client, login, world):
    assert client.get("/api/v1/recommendations").status_code == 401
    _as(app, login, world.ada)  # a mentor
    assert client.get("/api/v1/recommendations").status_code == 403


def test_unknown_learner_without_history_still_gets_recommendations(app, client, login, make_user, world):
    newbie = make_user("newbie@example.com", roles=("learner",))
    _as(app, login, newbie.id)
    body = client.get("/api/v1/recommendations").get_json()
    assert len(body["recommendations"]) == 4  # ada, ben, carla, dan


def test_click_and_booking_are_attributed_to_the_exposure(app, client, login, world, fresh):
    _as(app, login, fresh)
    body = client.get("/api/v1/recommendations?topic=python").get_json()
    exposure_id = body["exposure_id"]
    picked = body["recommendations"][0]
    response = client.get(picked["click_url"])
    assert response.status_code == 302 and f"/mentors/{picked['id']}/preview" in response.headers["Location"]
    clicks = _events(app, EventType.CLICK)
    assert len(clicks) == 1 and clicks[0].exposure_id == exposure_id and clicks[0].mentor_id == picked["id"]
    assert clicks[0].payload["position"] == 1

    # the API click endpoint refuses someone else's exposure
    api_click = client.post("/api/v1/recommendations/clicks", json={"exposure_id": exposure_id + 999,
                                                                    "mentor_id": picked["id"]})
    assert api_click.status_code == 404

    # a booking request for the clicked mentor carries the exposure, its model version and arm
    from api.bookings import service

    with app.app_context():
        learner = db.session.get(User, fresh)
        free = service.mentor_free_slots(service.get_mentor(picked["id"]), datetime.now(UTC),
                                         datetime.now(UTC), datetime.now(UTC) + timedelta(days=14))
        service.request_booking(learner, picked["id"], free[0].start)
        db.session.commit()
    requests = _events(app, EventType.BOOKING_REQUEST)
    assert len(requests) == 1 and requests[0].exposure_id == exposure_id


def test_booking_without_a_recommendation_is_not_attributed(app, client, login, world):
    from api.bookings import service

    with app.app_context():
        learner = db.session.get(User, world.learner)
        free = service.mentor_free_slots(service.get_mentor(world.ada), datetime.now(UTC), datetime.now(UTC),
                                         datetime.now(UTC) + timedelta(days=14))
        service.request_booking(learner, world.ada, free[0].start)
        db.session.commit()
    assert _events(app, EventType.BOOKING_REQUEST)[0].exposure_id is None


def test_home_page_and_search_show_the_section(app, client, login, world):
    _as(app, login, world.learner)
    home = client.get("/profile")
    assert home.status_code == 200 and b"Recommended for you" in home.data and b"Why:" in home.data
    start = client.get("/")  # the site's front page, for someone logged in: their start, not the sign-up choices
    assert start.status_code == 200 and b"Recommended for you" in start.data and b"/signup" not in start.data
    page = client.get("/recommendations")
    assert page.status_code == 200 and b"Why:" in page.data
    search = client.get("/mentors?q=python")
    assert search.status_code == 200 and b"Recommended for you" in search.data
    assert len(_events(app, EventType.EXPOSURE)) == 4
    # search itself is unaffected without a model (no personal scores to blend)
    assert client.get("/api/v1/mentors?q=python").status_code == 200


def test_admin_weights_setting_changes_the_ranking(app, client, login, world, fresh):
    from api.recommendations import engine

    _as(app, login, fresh)
    with app.app_context():
        engine.set_admin_weights({"popularity": 0.0, "model": 0.0, "availability": 0.0, "interest": 0.0,
                                  "diversity": 0.0, "new_mentor": 5.0})
        with pytest.raises(ValueError):
            engine.set_admin_weights({"nonsense": 1.0})
    body = client.get("/api/v1/recommendations").get_json()
    reasons = {r["id"]: r["reason_kind"] for r in body["recommendations"]}
    # every mentor of the small world is new (approved today, under 3 sessions) except the popular carla
    assert body["recommendations"][-1]["id"] == world.carla or reasons[world.carla] != "new_mentor"


def test_past_mentors_rated_well_are_in_their_own_book_again_row(app, client, login, world):
    from api.tables import Booking, Review

    with app.app_context():
        for mentor_id, rating in ((world.ada, 5), (world.carla, 3)):
            booking = db.session.scalars(sa.select(Booking).where(Booking.learner_id == world.learner,
                                                                  Booking.mentor_id == mentor_id)).first()
            db.session.add(Review(booking_id=booking.id, learner_id=world.learner, mentor_id=mentor_id,
                                  rating=rating))
        db.session.commit()
    _as(app, login, world.learner)
    body = client.get("/api/v1/recommendations").get_json()
    assert [r["id"] for r in body["recommendations"]] == [world.dan]  # booked mentors are never "recommended"
    assert [(r["id"], r["your_rating"]) for r in body["book_again"]] == [(world.ada, 5.0)]  # carla's 3: not
    for path in ("/profile", "/recommendations"):
        html = client.get(path).get_data(as_text=True)
        assert 'id="book-again"' in html and "Ada Lovelace" in html.split('id="book-again"', 1)[1]
    assert 'id="book-again"' not in client.get("/mentors?q=python").get_data(as_text=True)
