"""The admin panel in Chromium: TOTP sign-in, approving a mentor, changing an A/B split, analytics charts.

Screenshots go to /tmp/shots/admin-*.png.
"""
from __future__ import annotations

import os
import random
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect

from tests.api.admin.admin_helpers import code, enrol

pytestmark = pytest.mark.browser
SHOTS = "/tmp/shots"
UTC = timezone.utc


def _shot(page, name: str) -> None:
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SHOTS, f"admin-{name}.png"), full_page=True)


def _seed(app, make_user):
    """60 days of a small marketplace: sign-ups, searches, views, bookings, payments, refunds, reviews, chat."""
    from api.activity import log_event
    from api.extensions import db
    from api.tables import (Booking, BookingStatus, ChatRoom, EventType, MentorProfile, MentorStatus, Message,
                            Payment, PaymentStatus, Refund, Review, Topic, User, mentor_topics)
    from serving import ab

    rng = random.Random(7)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = now - timedelta(days=60)
    root = make_user("root@example.com", roles=("admin",), full_name="Ada Admin")
    pending = make_user("pia@example.com", roles=("mentor",), full_name="Pia Pending")
    mentors = [make_user(f"m{i}@example.com", roles=("mentor",), full_name=n)
               for i, n in enumerate(["Mara Okafor", "Tom Berg", "Lena Schulz"])]
    learners = [make_user(f"l{i}@example.com", roles=("learner",), full_name=f"Learner {i}") for i in range(40)]
    with app.app_context():
        topics = [Topic(slug=s, name=n, category="Tech") for s, n in (("python", "Python"), ("ux-design", "UX design"))]
        db.session.add_all(topics)
        db.session.flush()
        for i, learner in enumerate(learners):
            db.session.get(User, learner.id).created_at = start + timedelta(days=i * 1.4, hours=rng.randint(0, 20))
        for i, m in enumerate(mentors + [pending]):
            db.session.add(MentorProfile(user_id=m.id, headline="Mentor", price_minor=4000 + 1000 * i, currency="USD",
                                         status=MentorStatus.PENDING if m is pending else MentorStatus.APPROVED,
                                         rating_count=0, rating_sum=0))
        db.session.flush()
        for i, m in enumerate(mentors + [pending]):
            db.session.execute(mentor_topics.insert().values(mentor_id=m.id, topic_id=topics[i % 2].id))
        room = ChatRoom(kind="public", slug="python", name="Python", topic_id=topics[0].id)
        db.session.add(room)
        db.session.flush()
        booking_no = 0
        for day in range(60):
            when = start + timedelta(days=day)
            active = [lr for lr in learners if db.session.get(User, lr.id).created_at <= when]
            for _ in range(rng.randint(6, 14) + day // 4):
                if not active:
                    break
                who = rng.choice(active)
                log_event(EventType.SEARCH, user_id=who.id, occurred_at=when + timedelta(hours=rng.randint(8, 22)),
                          topics=[rng.choice(["python", "ux-design"])])
                if rng.random() < 0.6:
                    log_event(EventType.PROFILE_VIEW, user_id=who.id, mentor_id=rng.choice(mentors).id,
                              occurred_at=when + timedelta(hours=23))
                if rng.random() < 0.12:
                    mi = rng.randrange(3)
                    status = rng.choice([BookingStatus.COMPLETED] * 5 + [BookingStatus.CANCELLED_BY_LEARNER,
                                                                         BookingStatus.NO_SHOW, BookingStatus.REJECTED])
                    booking_no += 1
                    booking = Booking(learner_id=who.id, mentor_id=mentors[mi].id, topic_id=topics[mi % 2].id,
                                      status=status, starts_at=when + timedelta(days=2),
                                      ends_at=when + timedelta(days=2, hours=1), price_minor=4000 + 1000 * mi,
                                      currency="USD", created_at=when + timedelta(hours=9))
                    db.session.add(booking)
                    db.session.flush()
                    log_event(EventType.BOOKING_OUTCOME, user_id=mentors[mi].id, mentor_id=mentors[mi].id,
                              booking_id=booking.id, occurred_at=when + timedelta(hours=9 + rng.randint(1, 30)),
                              outcome="rejected" if status == BookingStatus.REJECTED else "accepted")
                    if status != BookingStatus.REJECTED:
                        payment = Payment(booking_id=booking.id, gateway="sandbox", status=PaymentStatus.CAPTURED,
                                          amount_minor=booking.price_minor, captured_minor=booking.price_minor,
                                          platform_fee_minor=booking.price_minor * 15 // 100, currency="USD",
                                          created_at=when + timedelta(hours=9))
                        db.session.add(payment)
                        db.session.flush()
                        if status == BookingStatus.CANCELLED_BY_LEARNER:
                            db.session.add(Refund(payment_id=payment.id, amount_minor=booking.price_minor,
                                                  currency="USD", reason="cancelled", status="succeeded",
                                                  idempotency_key=f"r-{payment.id}", created_at=when + timedelta(days=1)))
                    if status == BookingStatus.COMPLETED and rng.random() < 0.6:
                        rating = rng.choice([3, 4, 4, 5, 5, 5])
                        db.session.add(Review(booking_id=booking.id, learner_id=who.id, mentor_id=mentors[mi].id,
                                              rating=rating, created_at=when + timedelta(days=3)))
                        profile = db.session.get(MentorProfile, mentors[mi].id)
                        profile.rating_count += 1
                        profile.rating_sum += rating
            for _ in range(rng.randint(2, 9)):
                if active:
                    db.session.add(Message(room_id=room.id, sender_id=rng.choice(active).id, body="hi",
                                           created_at=when + timedelta(hours=rng.randint(8, 22))))
        ab.create_experiment(db.session, "Hybrid vs champion", [
            {"name": "control", "model_alias": "champion", "traffic_share": 0.5},
            {"name": "challenger", "model_alias": "challenger", "traffic_share": 0.5}], start=True)
        db.session.commit()
    enrol(app, root.id)
    return pending


def test_admin_approves_a_mentor_changes_a_split_and_reads_the_analytics(app, live_server, browser, make_user):
    pending = _seed(app, make_user)
    base = live_server
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-GB")
    page = context.new_page()

    # password, then the TOTP code
    page.goto(base + "/login")
    page.get_by_label("E-mail address").fill("root@example.com")
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base + "/admin/2fa")
    _shot(page, "2fa")
    page.get_by_label("6-digit code from your authenticator app").fill(code())
    page.get_by_role("button", name="Verify and sign in").click()
    page.wait_for_url(base + "/admin/mentors")

    # approve the pending mentor
    expect(page.get_by_role("heading", name="Pia Pending")).to_be_visible()
    page.get_by_role("button", name="Approve Pia Pending").click()
    expect(page.get_by_text("Pia Pending is approved")).to_be_visible()

    # change the A/B split
    page.get_by_role("navigation", name="Admin panel").get_by_role("link", name="A/B tests").click()
    page.get_by_label("Share of control (%)").fill("70")
    page.get_by_label("Share of challenger (%)").fill("30")
    page.get_by_role("button", name="Save split").click()
    expect(page.get_by_text("Split saved: control 70%, challenger 30%.")).to_be_visible()
    assert page.get_by_label("Share of control (%)").input_value() == "70"
    _shot(page, "experiments")

    # analytics with its charts
    page.get_by_role("navigation", name="Admin panel").get_by_role("link", name="Analytics").click()
    expect(page.locator('canvas[data-rendered="1"]')).to_have_count(3)
    page.wait_for_timeout(600)  # the charts' entry animation
    assert page.locator("tr[data-stage=search] td.num").first.inner_text() != "0"
    _shot(page, "analytics")

    page.get_by_role("navigation", name="Admin panel").get_by_role("link", name="Revenue").click()
    expect(page.locator('canvas[data-rendered="1"]')).to_have_count(1)
    page.wait_for_timeout(600)
    _shot(page, "revenue")
    page.get_by_role("navigation", name="Admin panel").get_by_role("link", name="Mentors").click()
    _shot(page, "mentors")
    page.get_by_role("navigation", name="Admin panel").get_by_role("link", name="Audit log").click()
    expect(page.get_by_text("ab.split")).to_be_visible()
    expect(page.get_by_text("mentor.approve")).to_be_visible()
    _shot(page, "audit")

    from api.extensions import db
    from api.tables import AbArm, MentorProfile

    with app.app_context():
        assert db.session.get(MentorProfile, pending.id).status.value == "approved"
        assert sorted(a.traffic_share for a in db.session.query(AbArm)) == [0.3, 0.7]
    context.close()
