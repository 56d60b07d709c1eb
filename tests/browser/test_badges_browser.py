"""Status badges read as what they mean in a real browser: "Verified" and "Approved" are green on light green,
a mentor's count of waiting requests is a readable counter, and every badge meets WCAG AA contrast."""
from __future__ import annotations

import pytest

from tests.api.bookings.conftest import NOW, create_mentor, create_person
from tests.api.test_badges import contrast
from tests.browser.test_booking_browser import log_in, with_password

pytestmark = pytest.mark.browser

COLOURS = """element => {
  const hex = value => '#' + value.match(/\\d+/g).slice(0, 3).map(n => (+n).toString(16).padStart(2, '0')).join('');
  const style = getComputedStyle(element);
  return {background: hex(style.backgroundColor), color: hex(style.color), text: element.textContent.trim()};
}"""


def badge_colours(page, text: str) -> dict:
    return page.locator(".badge", has_text=text).first.evaluate(COLOURS)


def is_green(colours: dict) -> bool:
    red, green, blue = (int(colours["color"][i:i + 2], 16) for i in (1, 3, 5))
    return green > red and green > blue


def test_verified_approved_and_counts_are_readable_by_meaning(fixed_clock, app, live_server, page):
    fixed_clock.set(NOW)
    app.config["PAYMENTS_REQUIRED"] = False
    mentor = with_password(app, create_mentor(app, "mara@example.com"))
    learner = create_person(app, "leo@example.com")
    from api.bookings import service
    from api.extensions import db
    from api.tables import User

    with app.app_context():
        slot = service.mentor_free_slots(service.get_mentor(mentor.id), NOW, NOW, NOW.replace(day=9))[0]
        service.request_booking(db.session.get(User, learner.id), mentor.id, slot.start, "")

    log_in(page, live_server, "mara@example.com")
    page.goto(f"{live_server}/account")
    verified = badge_colours(page, "Verified")
    assert is_green(verified) and contrast(verified["background"], verified["color"]) >= 4.5, verified
    page.goto(f"{live_server}/mentor/profile")
    approved = badge_colours(page, "Approved")
    assert approved | {"text": ""} == verified | {"text": ""}  # the same meaning, the same colour
    count = page.get_by_test_id("nav-sessions").locator(".badge").evaluate(COLOURS)
    assert count["text"] == "1" and contrast(count["background"], count["color"]) >= 4.5
    assert count["background"] != verified["background"]  # a counter does not look like a status
    for element in page.locator(".badge:visible").all():
        colours = element.evaluate(COLOURS)
        assert contrast(colours["background"], colours["color"]) >= 4.5, colours
