"""Search page, profile preview page and JSON: what a learner sees."""
from datetime import timedelta

import pytest

from api.extensions import db
from api.tables import Review, utcnow
from tests.api.search.discovery_helpers import completed_booking

pytestmark = pytest.mark.db


def _reviews(app, world, texts):
    with app.app_context():
        now = utcnow()
        for i, (rating, text) in enumerate(texts):
            booking = completed_booking(world.ada, world.learner, now - timedelta(days=30 + i))
            db.session.add(Review(booking_id=booking.id, learner_id=world.learner, mentor_id=world.ada, rating=rating,
                                  text=text, created_at=now - timedelta(days=i), updated_at=now - timedelta(days=i)))
        db.session.commit()


def test_preview_json_has_profile_slots_distribution_and_paginated_reviews(app, client, world):
    _reviews(app, world, [(5, f"Great session {i}") for i in range(6)] + [(3, "Okay")])
    body = client.get(f"/api/v1/mentors/{world.ada}/preview").get_json()
    assert body["name"] == "Ada Lovelace" and body["past_roles"] == ["Staff engineer at Northwind Traders"]
    assert body["rating_distribution"] == {"5": 6, "4": 0, "3": 1, "2": 0, "1": 0}
    assert body["reviews_total"] == 7 and body["reviews_pages"] == 2 and len(body["reviews"]) == 5
    assert body["reviews"][0]["text"] == "Great session 0" and body["reviews"][0]["author"] == "Leo L."
    assert len(body["next_free_slots"]) == 6
    second = client.get(f"/api/v1/mentors/{world.ada}/reviews?page=2").get_json()
    assert [r["text"] for r in second["reviews"]] == ["Great session 5", "Okay"]
    assert client.get(f"/api/v1/mentors/{world.dan}/preview").get_json()["next_free_slots"] == []


def test_search_and_preview_pages_render(app, client, world):
    _reviews(app, world, [(4, "Clear explanations")])
    page = client.get("/mentors?topic=python&sort=rating")
    assert page.status_code == 200
    html = page.data.decode()
    assert "Ada Lovelace" in html and "Ben Newcomer" in html and "Carla" not in html
    assert "<strong>2</strong> mentors" in html
    preview = client.get(f"/mentors/{world.ada}/preview?currency=EUR&tz=Europe/Berlin").data.decode()
    assert "Clear explanations" in preview and "€46.00" in preview and "Next free slots" in preview
    assert "Europe/Berlin" in preview
