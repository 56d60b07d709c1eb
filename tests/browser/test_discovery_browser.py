"""A learner searches, filters by price and availability, sorts by rating, opens a profile and reads reviews."""
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from api.extensions import db
from api.tables import Review, utcnow
from tests.api.search.discovery_helpers import build_world, completed_booking, next_weekday

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots")


@pytest.fixture
def world(app):
    with app.app_context():
        world = build_world()
        now = utcnow()
        texts = ["Ada explained decorators so clearly.", "Great Django tips.", "Patient and precise.",
                 "<script>alert('x')</script> not executed", "Helpful code review.", "Good pace.",
                 "The oldest review: still great."]
        for i, text in enumerate(texts):
            booking = completed_booking(world.ada, world.learner, now - timedelta(days=40 + i))
            db.session.add(Review(booking_id=booking.id, learner_id=world.learner, mentor_id=world.ada,
                                  rating=5 if i % 3 else 4, text=text, created_at=now - timedelta(days=i),
                                  updated_at=now - timedelta(days=i)))
        db.session.commit()
        return world


def _names(page) -> list[str]:
    return page.locator(".mentor-list .mentor-name").all_inner_texts()


def test_search_filter_sort_profile_reviews(world, live_server, page):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(live_server + "/mentors")
    assert page.locator(".results-count").inner_text().startswith("4 mentors")
    page.screenshot(path=str(SHOTS / "search-01-all.png"), full_page=True)

    # filter: price up to 60 USD and free Monday-Saturday between 09:00 and 13:00 Berlin time
    monday = next_weekday(0, "Europe/Berlin")
    page.locator(".filters > summary").click()
    page.fill("#price_max", "60")
    page.select_option("#currency", "USD")
    page.fill("#available_from", monday.isoformat())
    page.fill("#available_to", (monday + timedelta(days=5)).isoformat())
    page.fill("#time_from", "09:00")
    page.fill("#time_to", "13:00")
    page.fill("#tz", "Europe/Berlin")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_load_state()
    assert sorted(_names(page)) == ["Ada Lovelace", "Ben Newcomer"]  # Dan costs 90, Carla teaches evenings
    page.screenshot(path=str(SHOTS / "search-02-filtered.png"), full_page=True)

    page.select_option("#sort", "price_low")
    page.wait_for_url("**sort=price_low**")
    assert _names(page) == ["Ben Newcomer", "Ada Lovelace"]
    page.select_option("#sort", "rating")
    page.wait_for_url("**sort=rating**")
    assert _names(page) == ["Ada Lovelace", "Ben Newcomer"]  # 200 x 4.8 beats 1 x 5 (Bayesian average)
    page.screenshot(path=str(SHOTS / "search-03-sorted-by-rating.png"), full_page=True)

    page.get_by_role("link", name="Ada Lovelace", exact=True).click()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", name="Ada Lovelace", level=1)).to_be_visible()
    assert page.locator(".slot-list li").count() == 6
    reviews = page.locator(".review-text").all_inner_texts()
    assert reviews[0] == "Ada explained decorators so clearly." and len(reviews) == 5
    assert "<script>alert('x')</script> not executed" in reviews  # shown as text, never run
    page.screenshot(path=str(SHOTS / "search-04-profile.png"), full_page=True)

    page.get_by_role("link", name="Older ›").click()
    page.wait_for_load_state()
    assert page.locator(".review-text").all_inner_texts() == ["Good pace.", "The oldest review: still great."]
    page.screenshot(path=str(SHOTS / "search-05-reviews-page-2.png"), full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server + "/mentors?sort=rating")
    page.screenshot(path=str(SHOTS / "search-06-mobile.png"), full_page=True)
    page.goto(live_server + f"/mentors/{world.ada}/preview")
    page.screenshot(path=str(SHOTS / "search-07-profile-mobile.png"), full_page=True)
