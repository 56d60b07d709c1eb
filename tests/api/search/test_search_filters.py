"""Search filters, sorts and pagination against a hand-built world with known answers (SQLite and PostgreSQL)."""
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from api.extensions import db
from api.search.query import bayesian_average
from api.tables import Booking, BookingStatus, Event, EventType, User
from tests.api.search.discovery_helpers import next_weekday

pytestmark = pytest.mark.db


def ids(client, query: str = "", status: int = 200) -> list[int]:
    response = client.get("/api/v1/mentors" + ("?" + query if query else ""))
    assert response.status_code == status, response.get_json()
    return [m["id"] for m in response.get_json()["mentors"]]


def test_only_approved_active_mentors_appear(client, world):
    body = client.get("/api/v1/mentors?per_page=50").get_json()
    assert body["total"] == 4
    assert sorted(m["id"] for m in body["mentors"]) == sorted([world.ada, world.ben, world.carla, world.dan])
    assert world.eve not in ids(client, "topic=python") and world.fay not in ids(client, "q=python")
    assert client.get(f"/api/v1/mentors/{world.eve}/preview").status_code == 404
    assert client.get(f"/api/v1/mentors/{world.fay}/preview").status_code == 404


def test_topic_and_free_text(client, world):
    assert sorted(ids(client, "topic=python")) == sorted([world.ada, world.ben])
    assert ids(client, "q=django") == [world.ada]  # headline
    assert ids(client, "q=profesora") == [world.carla]  # name
    assert ids(client, "q=northwind") == [world.ada]  # past roles (experience)
    assert ids(client, "q=spanish+tutor") == [world.carla]  # topic name; filler words ignored
    assert ids(client, "q=figma+research") == [world.dan]  # every word must match
    assert ids(client, "q=pyth") and set(ids(client, "q=pyth")) == {world.ada, world.ben}  # prefix


def test_rating_price_experience_language_filters(client, world):
    assert set(ids(client, "min_rating=4.5")) == {world.ada, world.ben}
    assert set(ids(client, "min_rating=4")) == {world.ada, world.ben, world.carla}
    # prices in the learner's currency (settings.payments_fx_rates): Ben 30 EUR = 32.61 USD, Ada 50 USD,
    # Carla 40 GBP = 50.63 USD (what she is charged), Dan 90 USD
    assert ids(client, "price_max=40&currency=USD") == [world.ben]
    assert set(ids(client, "price_min=45&price_max=60")) == {world.ada, world.carla}
    assert set(ids(client, "price_min=50.63&price_max=50.63")) == {world.carla}
    assert ids(client, "price_max=30&currency=EUR") == [world.ben]  # exactly the mentor's own price
    assert ids(client, "experience=entry") == [world.ben]
    assert ids(client, "experience=expert") == [world.ada]
    assert set(ids(client, "experience=senior,mid")) == {world.carla, world.dan}
    assert ids(client, "language=fr") == [world.dan]
    assert set(ids(client, "language=es")) == {world.ada, world.carla}


def test_display_price_is_converted_at_the_settings_rates(client, world):
    mentors = {m["id"]: m for m in client.get("/api/v1/mentors?currency=EUR").get_json()["mentors"]}
    assert mentors[world.ada]["display_price"] == {"amount_minor": 4600, "currency": "EUR"}  # 50 USD x 0.92
    assert mentors[world.ben]["display_price"] == {"amount_minor": 3000, "currency": "EUR"}
    assert mentors[world.ada]["price"] == {"amount_minor": 5000, "currency": "USD"}  # the mentor's own price


def test_sorts(client, world):
    # Bayesian average, prior = platform mean 1005/211, weight 10: Ada 4.798 > Ben 4.785 > Dan 4.763 > Carla 4.38
    assert ids(client, "sort=rating") == [world.ada, world.ben, world.dan, world.carla]
    assert ids(client, "sort=price_low") == [world.ben, world.ada, world.carla, world.dan]
    assert ids(client, "sort=price_high") == [world.dan, world.carla, world.ada, world.ben]
    assert ids(client, "sort=experience") == [world.ada, world.carla, world.dan, world.ben]
    # completed sessions in 90 days: Carla 3, Ada 1, Ben 0 (his is 120 days old), Dan 0; ties by rating
    assert ids(client, "sort=popularity") == [world.carla, world.ada, world.ben, world.dan]


def test_bayesian_average_keeps_one_five_star_below_many_good_ratings(client, world):
    assert bayesian_average(5, 1, 4.0, 10) < bayesian_average(200 * 4.8, 200, 4.0, 10)
    assert bayesian_average(0, 0, 4.2, 10) == pytest.approx(4.2)
    body = client.get("/api/v1/mentors?sort=rating&topic=python").get_json()
    assert [m["id"] for m in body["mentors"]] == [world.ada, world.ben]  # 200 x 4.8 beats 1 x 5
    assert body["mentors"][1]["rating"]["average"] == 5.0


def test_pagination_is_stable_with_a_total(client, world):
    first = client.get("/api/v1/mentors?sort=rating&per_page=3&page=1").get_json()
    second = client.get("/api/v1/mentors?sort=rating&per_page=3&page=2").get_json()
    assert first["total"] == second["total"] == 4 and first["pages"] == 2
    assert [m["id"] for m in first["mentors"]] + [m["id"] for m in second["mentors"]] == \
        [world.ada, world.ben, world.dan, world.carla]
    beyond = client.get("/api/v1/mentors?per_page=3&page=9").get_json()
    assert beyond["mentors"] == [] and beyond["total"] == 4


def test_availability_window_in_the_learners_zone(app, client, world):
    monday = next_weekday(0, "UTC")
    # Monday 09-12 UTC: only Ada (Mon-Fri 09-17 UTC)
    assert ids(client, f"available_from={monday}&available_to={monday}&time_from=09:00&time_to=12:00&tz=UTC") == [world.ada]
    # Saturday 10-12 in Berlin: Ben
    saturday = next_weekday(5, "Europe/Berlin")
    assert ids(client, f"available_from={saturday}&available_to={saturday}&time_from=10:00&time_to=12:00"
                       f"&tz=Europe/Berlin") == [world.ben]
    # Monday 18-21 in Madrid: Carla only (Ada's last slot ends at 17:00 UTC)
    monday_madrid = next_weekday(0, "Europe/Madrid")
    query = f"available_from={monday_madrid}&available_to={monday_madrid}&time_from=18:00&time_to=21:00&tz=Europe/Madrid"
    assert ids(client, query) == [world.carla]
    # a session too long for what is left of the window does not count: 19:30-21:00 holds no 60-minute slot at :00
    assert ids(client, query.replace("time_from=18:00", "time_from=19:30")) == [world.carla]  # 20:00-21:00 fits
    assert ids(client, query.replace("time_from=18:00", "time_from=20:30")) == []
    # Carla fully booked that evening: nobody is free, and the page suggests dropping the availability filter
    with app.app_context():
        start = datetime.combine(monday_madrid, time(18), tzinfo=ZoneInfo("Europe/Madrid")).astimezone(timezone.utc)
        db.session.add(Booking(mentor_id=world.carla, learner_id=world.learner, starts_at=start,
                               ends_at=start + timedelta(hours=3), status=BookingStatus.ACCEPTED, price_minor=1,
                               currency="GBP"))
        db.session.commit()
    body = client.get("/api/v1/mentors?" + query).get_json()
    assert body["total"] == 0
    assert [s["filter"] for s in body["suggestions"]] == ["availability"]


def test_empty_results_suggest_relaxing_a_filter(client, world):
    body = client.get("/api/v1/mentors?q=python&language=fr").get_json()
    assert body["total"] == 0
    suggestions = {s["filter"]: s["total"] for s in body["suggestions"]}
    assert suggestions == {"language": 2, "q": 1}
    page = client.get("/mentors?q=python&language=fr")
    assert page.status_code == 200
    assert b"Remove the language filter" in page.data and b"Clear the search words" in page.data


INVALID = [
    ("price_min=60&price_max=20", "price_min"),
    ("topic=underwater-basket-weaving", "topic"),
    ("available_from=2026-13-45", "available_from"),
    ("available_from=tomorrow", "available_from"),
    ("available_to=2026/01/01", "available_to"),
    ("time_from=25:00", "time_from"),
    ("time_from=18:00&time_to=09:00", "time_to"),
    ("min_rating=6", "min_rating"),
    ("price_max=cheap", "price_max"),
    ("sort=random", "sort"),
    ("experience=guru", "experience"),
    ("language=english!", "language"),
    ("tz=Mars/Olympus", "tz"),
    ("currency=XXX", "currency"),
    ("page=0", "page"),
]


def test_invalid_filters_get_400_naming_the_parameter(client, world):
    for query, param in INVALID:
        response = client.get("/api/v1/mentors?" + query)
        assert response.status_code == 400, query
        assert param in response.get_json()["error"]["fields"], query
        page = client.get("/mentors?" + query)
        assert page.status_code == 400 and param.encode() in page.data, query


def test_every_search_and_profile_view_is_logged(app, client, world, make_user, login):
    viewer = make_user("viewer@example.com", roles=("learner",))
    login(viewer)
    client.get("/api/v1/mentors?q=python&sort=rating&min_rating=4")
    client.get("/mentors?topic=spanish")
    client.get(f"/mentors/{world.carla}/preview")
    client.get(f"/api/v1/mentors/{world.ada}/preview")
    with app.app_context():
        events = db.session.scalars(sa.select(Event).order_by(Event.id)).all()
        searches = [e for e in events if e.event_type == EventType.SEARCH]
        views = [e for e in events if e.event_type == EventType.PROFILE_VIEW]
    assert len(searches) == 2 and len(views) == 2
    first = searches[0].payload
    assert first["q"] == "python" and first["sort"] == "rating" and first["min_rating"] == 4.0
    assert first["results"] == [world.ada, world.ben] and first["total"] == 2
    assert searches[0].user_id == viewer.id
    assert searches[1].payload["topics"] == ["spanish"] and searches[1].payload["results"] == [world.carla]
    assert {v.mentor_id for v in views} == {world.carla, world.ada}


def test_full_text_index_follows_profile_changes(app, client, world):
    with app.app_context():
        db.session.get(User, world.dan).full_name = "Dana Zeppelin"
        from api.tables import MentorProfile

        db.session.get(MentorProfile, world.ben).headline = "Rust and embedded systems"
        db.session.commit()
    assert ids(client, "q=zeppelin") == [world.dan]
    assert ids(client, "q=embedded") == [world.ben]
    assert ids(client, "q=beginners") == []
