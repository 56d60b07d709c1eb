"""A learner books a slot in the browser, the mentor accepts it, and each sees it in their own time zone."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from api.auth.passwords import hash_password
from api.extensions import db
from api.tables import User
from tests.api.bookings.conftest import create_mentor, create_person

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots")
PASSWORD = "correct horse battery staple"


def with_password(app, person):
    with app.app_context():
        db.session.get(User, person.id).password_hash = hash_password(PASSWORD)
        db.session.commit()
    return person


def log_in(page, base_url: str, email: str) -> None:
    """Through the accounts feature's real log-in form."""
    page.goto(f"{base_url}/login?next=/bookings/")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(f"{base_url}/bookings/")


def test_learner_books_mentor_accepts_both_see_it_in_their_zone(app, fixed_clock, live_server, browser, page):
    from tests.api.bookings.conftest import NOW

    fixed_clock.set(NOW)  # Monday 2 March 2026, 08:00 UTC
    app.config["PAYMENTS_REQUIRED"] = False  # the paid flow is tests/browser/test_payments_browser.py
    SHOTS.mkdir(parents=True, exist_ok=True)
    mentor = with_password(app, create_mentor(app, "mara@example.com", tz="Europe/Berlin"))
    with_password(app, create_person(app, "lina@example.com", tz="Asia/Kolkata", full_name="Lina Learner"))

    # the learner picks Tuesday 09:00 Berlin, which she sees as 13:30 in Kolkata
    log_in(page, live_server, "lina@example.com")
    page.goto(f"{live_server}/bookings/mentors/{mentor.id}/book?start=2026-03-03")
    expect(page.get_by_text("your time zone, Asia/Kolkata")).to_be_visible()
    page.get_by_label("13:30–14:30 IST").first.check()
    page.get_by_label("A note for Mara Mentor").fill("I would like to review my SQL portfolio.")
    page.screenshot(path=str(SHOTS / "booking-1-learner-picks-slot.png"), full_page=True)
    page.get_by_role("button", name="Request this session").click()
    page.wait_for_url(f"{live_server}/bookings/")
    learner_upcoming = page.get_by_test_id("learner-upcoming")
    assert "Tue 3 Mar 2026, 13:30–14:30 IST" in learner_upcoming.inner_text()
    assert "requested" in learner_upcoming.inner_text()
    page.screenshot(path=str(SHOTS / "booking-2-learner-requested.png"), full_page=True)

    # the mentor accepts from her dashboard, where the same session is 09:00 CET
    mentor_context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="de-DE")
    mentor_page = mentor_context.new_page()
    try:
        log_in(mentor_page, live_server, "mara@example.com")
        requests_box = mentor_page.get_by_test_id("mentor-requests")
        assert "Tue 3 Mar 2026, 09:00–10:00 CET" in requests_box.inner_text()
        assert "I would like to review my SQL portfolio." in requests_box.inner_text()
        requests_box.get_by_role("button", name="Accept").click()
        mentor_page.wait_for_url(f"{live_server}/bookings/")
        upcoming = mentor_page.get_by_test_id("mentor-upcoming")
        assert "Tue 3 Mar 2026, 09:00–10:00 CET" in upcoming.inner_text()
        assert "accepted" in upcoming.inner_text() and "Lina Learner" in upcoming.inner_text()
        assert "No open requests." in mentor_page.get_by_test_id("mentor-requests").inner_text()
        mentor_page.screenshot(path=str(SHOTS / "booking-3-mentor-accepted.png"), full_page=True)
    finally:
        mentor_context.close()

    page.reload()
    learner_upcoming = page.get_by_test_id("learner-upcoming")
    assert "Tue 3 Mar 2026, 13:30–14:30 IST" in learner_upcoming.inner_text()
    assert "accepted" in learner_upcoming.inner_text()
    assert "meet.jit.si" in learner_upcoming.inner_text()
    page.screenshot(path=str(SHOTS / "booking-4-learner-sees-accepted.png"), full_page=True)
