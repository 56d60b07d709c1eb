"""A learner requests a session and pays with the sandbox gateway; the mentor accepts; the receipt and the
mentor's earnings show it (screenshots in /tmp/shots/payments-*.png)."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from api.extensions import db
from api.tables import User
from tests.api.bookings.conftest import NOW, create_mentor, create_person
from tests.browser.test_booking_browser import log_in, with_password

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots")


def test_learner_pays_with_the_sandbox_and_mentor_accepts(app, fixed_clock, live_server, browser, page):
    fixed_clock.set(NOW)  # Monday 2 March 2026, 08:00 UTC
    SHOTS.mkdir(parents=True, exist_ok=True)
    mentor = with_password(app, create_mentor(app, "mara@example.com", tz="Europe/Berlin"))
    learner = with_password(app, create_person(app, "lina@example.com", tz="Asia/Kolkata", full_name="Lina Learner"))
    with app.app_context():
        db.session.get(User, learner.id).currency = "INR"
        db.session.get(User, mentor.id).currency = "EUR"  # the mentor's one currency: their price's
        db.session.commit()

    log_in(page, live_server, "lina@example.com")
    page.goto(f"{live_server}/bookings/mentors/{mentor.id}/book?start=2026-03-03")
    page.get_by_label("13:30–14:30 IST").first.check()
    page.get_by_role("button", name="Request this session").click()
    page.wait_for_url(f"{live_server}/payments/bookings/*/pay")
    expect(page.get_by_test_id("sandbox-banner")).to_be_visible()
    assert page.get_by_test_id("pay-amount").inner_text() == "₹4,510.87"  # 50 EUR in the learner's currency
    assert "€50.00" in page.content()
    page.screenshot(path=str(SHOTS / "payments-1-sandbox-checkout.png"), full_page=True)

    page.get_by_label("Test card number").fill("4000 0000 0000 0002")
    page.get_by_test_id("pay-button").click()
    expect(page.get_by_text("The sandbox declined this test card")).to_be_visible()
    page.get_by_label("Test card number").fill("4242 4242 4242 4242")
    page.get_by_test_id("pay-button").click()
    page.wait_for_url(f"{live_server}/payments/receipts/*")
    assert "held" in page.get_by_test_id("payment-status").inner_text()
    page.screenshot(path=str(SHOTS / "payments-2-receipt-held.png"), full_page=True)

    mentor_context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="de-DE")
    mentor_page = mentor_context.new_page()
    try:
        log_in(mentor_page, live_server, "mara@example.com")
        mentor_page.get_by_test_id("mentor-requests").get_by_role("button", name="Accept").click()
        mentor_page.wait_for_url(f"{live_server}/bookings/")
        assert "accepted" in mentor_page.get_by_test_id("mentor-upcoming").inner_text()
        mentor_page.goto(f"{live_server}/payments/earnings")
        earnings = mentor_page.get_by_test_id("earnings").inner_text()
        # in the mentor's own currency: 85 % of the EUR 50 price, pending until the session ends
        assert "EUR" in earnings and "€42.50" in earnings
        mentor_page.screenshot(path=str(SHOTS / "payments-3-mentor-earnings.png"), full_page=True)
    finally:
        mentor_context.close()

    page.reload()
    assert page.get_by_test_id("payment-status").inner_text() == "paid"
    assert page.get_by_test_id("booking-status").inner_text() == "accepted"
    page.screenshot(path=str(SHOTS / "payments-4-receipt-paid.png"), full_page=True)
