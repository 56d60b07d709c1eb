"""A learner sees "Recommended for you" with a reason for each mentor, follows one and books a session."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from api.auth.passwords import hash_password
from api.extensions import db
from api.tables import Event, EventType, LearnerProfile, Topic, User
from tests.api.bookings.conftest import create_mentor, create_person

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots")
PASSWORD = "correct horse battery staple"


def test_learner_sees_recommendations_with_reasons_and_books_one(app, live_server, page):
    SHOTS.mkdir(parents=True, exist_ok=True)
    mentors = [create_mentor(app, f"mentor{n}@example.com", tz="UTC", full_name=name,
                             weekly=[(d, "08:00", "20:00") for d in range(7)])
               for n, name in enumerate(["Priya Python", "Sam Spanish"])]
    learner = create_person(app, "lena@example.com", full_name="Lena Learner")
    with app.app_context():
        python = Topic(slug="python", name="Python", category="programming")
        spanish = Topic(slug="spanish", name="Spanish", category="languages")
        db.session.add_all([python, spanish])
        db.session.flush()
        from api.tables import MentorProfile

        db.session.get(MentorProfile, mentors[0].id).topics = [python]
        db.session.get(MentorProfile, mentors[0].id).headline = "Python from zero to data pipelines"
        db.session.get(MentorProfile, mentors[1].id).topics = [spanish]
        profile = LearnerProfile(user_id=learner.id, interests="I want to learn Python")
        profile.topics = [python]
        db.session.add(profile)
        db.session.get(User, learner.id).password_hash = hash_password(PASSWORD)
        db.session.commit()

    page.goto(f"{live_server}/login")
    page.get_by_label("E-mail address").fill("lena@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(f"{live_server}/profile")
    section = page.locator("#recommended-for-you")
    section.wait_for()
    assert "Recommended for you" in section.inner_text()
    first = section.locator(".reco-item").first
    assert "Priya Python" in first.inner_text()
    assert "Matches your interest in Python" in first.inner_text()
    assert section.locator(".reco-reason").count() == 2  # every recommendation has its reason
    page.screenshot(path=str(SHOTS / "reco-1-home-section.png"), full_page=True)

    first.get_by_role("link", name="Priya Python").click()
    page.wait_for_url(f"**/mentors/{mentors[0].id}/preview**")
    page.screenshot(path=str(SHOTS / "reco-2-preview.png"), full_page=True)
    page.get_by_role("link", name="Book a session").first.click()
    page.wait_for_url(f"**/bookings/mentors/{mentors[0].id}/book**")
    slot = page.locator("input[type=radio][name=starts_at]").first
    if slot.count() == 0:
        page.get_by_role("link", name="Next week →").click()
        slot = page.locator("input[type=radio][name=starts_at]").first
    slot.check()
    page.screenshot(path=str(SHOTS / "reco-3-pick-slot.png"), full_page=True)
    page.get_by_role("button", name="Request this session").click()
    page.wait_for_url(re.compile(r".*/(bookings/|payments/bookings/\d+/pay)$"))  # the payments step, when present
    page.screenshot(path=str(SHOTS / "reco-4-requested.png"), full_page=True)

    with app.app_context():
        exposure = db.session.scalars(sa.select(Event).where(Event.event_type == EventType.EXPOSURE)).first()
        click = db.session.scalars(sa.select(Event).where(Event.event_type == EventType.CLICK)).one()
        booking = db.session.scalars(sa.select(Event).where(Event.event_type == EventType.BOOKING_REQUEST)).one()
    assert click.exposure_id == exposure.id and click.mentor_id == mentors[0].id
    assert booking.exposure_id == exposure.id  # the booking is attributed to the recommendation
