"""The demo world of `mentorhub seed`: deterministic, realistic, consistent, and carrying its planted tastes."""
from __future__ import annotations

import hashlib
import json
import shutil
from collections import defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import sqlalchemy as sa

from api import create_app
from api.auth.passwords import verify_password
from api.cli import DEMO_LOGINS, DEMO_PASSWORD, cli
from api.demo.world import TABLE_ORDER, WorldExistsError, WorldSpec, generate_world, simulate, world_exists
from api.extensions import db
from api.tables import (
    PaymentCheckout,
    AvailabilityException,
    AvailabilityRule,
    Booking,
    BookingStatus,
    Event,
    MentorProfile,
    MentorStatus,
    PaymentStatus,
    Refund,
    Review,
    Role,
    User,
)
from tests.conftest import _truncate_all, make_settings

UNTIL = date(2026, 3, 31)
SMALL = WorldSpec(learners=60, mentors=12, days=30, seed=7, until=UNTIL)
MEDIUM = WorldSpec(learners=300, mentors=30, days=60, seed=11, until=UNTIL)


def _seed(app, spec: WorldSpec = SMALL):
    with app.app_context():
        return generate_world(spec, demo_password=DEMO_PASSWORD, demo_logins=DEMO_LOGINS)


@pytest.fixture
def seeded(app):
    """The app with the small demo world in its database; yields (app, counts with .world)."""
    counts = _seed(app)
    return app, counts


def _digest(app) -> str:
    """A hash of every seeded table's rows (ordered by primary key), without the salted password hash."""
    digest = hashlib.sha256()
    with app.app_context():
        for name in TABLE_ORDER:
            table = db.Model.metadata.tables[name]
            columns = [c for c in table.c if c.name != "password_hash"]
            rows = db.session.execute(sa.select(*columns).order_by(*table.primary_key.columns)).all()
            for row in rows:
                digest.update(json.dumps(list(row), sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _fresh_app(db_backend, request, directory):
    """Another app on an empty, migrated database of the same backend."""
    directory.mkdir()
    if db_backend == "postgresql":
        url = request.getfixturevalue("postgres_url")
        _truncate_all(url)
    else:
        shutil.copy(request.getfixturevalue("sqlite_template"), directory / "mentorhub.db")
        url = ""
    return create_app(settings=make_settings(directory, url))


def _dispose(app):
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.mark.db
def test_same_seed_gives_the_same_world_and_another_seed_another(db_backend, request, tmp_path):
    digests = []
    for run, spec in enumerate((SMALL, SMALL, WorldSpec(60, 12, 30, seed=8, until=UNTIL))):
        app = _fresh_app(db_backend, request, tmp_path / f"run{run}")
        counts = _seed(app, spec)
        assert counts["users"] == 60 + 12 + 1
        digests.append(_digest(app))
        _dispose(app)
    assert digests[0] == digests[1]
    assert digests[0] != digests[2]


def test_simulation_is_pure_and_repeatable():
    first, second = simulate(SMALL), simulate(SMALL)
    assert first.rows == second.rows
    assert np.array_equal(first.tastes, second.tastes)


@pytest.mark.db
def test_counts_match_the_database_and_cover_every_table(seeded):
    app, counts = seeded
    with app.app_context():
        for name in TABLE_ORDER:
            table = db.Model.metadata.tables[name]
            assert db.session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() == counts[name]
    for name in ("topics", "users", "mentor_profiles", "bookings", "payments", "reviews", "events", "messages"):
        assert counts[name] > 0, name
    assert counts["topics"] >= 30
    assert counts["chat_rooms"] == counts["topics"] + 1  # one per topic plus "general"


@pytest.mark.db
def test_demo_logins_exist_with_their_roles_and_password(seeded):
    app, counts = seeded
    world = counts.world
    with app.app_context():
        users = {role: db.session.execute(sa.select(User).filter_by(email=email)).scalar_one()
                 for role, email in DEMO_LOGINS.items()}
        for role, user in users.items():
            assert user.has_role(Role(role))
            assert verify_password(user.password_hash, DEMO_PASSWORD)
            assert user.email_verified_at is not None and user.phone_verified_at is not None
        assert not users["learner"].has_role(Role.ADMIN) and not users["mentor"].has_role(Role.ADMIN)

        learner_bookings = db.session.execute(
            sa.select(Booking).filter_by(learner_id=users["learner"].id)).scalars().all()
        assert any(b.status == BookingStatus.COMPLETED for b in learner_bookings)
        assert any(b.status in (BookingStatus.REQUESTED, BookingStatus.ACCEPTED) and b.starts_at >= world.now
                   for b in learner_bookings)
        assert db.session.execute(sa.select(Review).filter_by(learner_id=users["learner"].id)).first()

        mentor = db.session.get(MentorProfile, users["mentor"].id)
        assert mentor.status == MentorStatus.APPROVED and mentor.availability
        mentor_bookings = db.session.execute(
            sa.select(Booking).filter_by(mentor_id=mentor.user_id)).scalars().all()
        assert any(b.status == BookingStatus.REQUESTED and b.starts_at >= world.now for b in mentor_bookings)


@pytest.mark.db
def test_admin_queue_and_unverified_learners(app):
    _seed(app, WorldSpec(learners=150, mentors=40, days=20, seed=3, until=UNTIL))
    with app.app_context():
        statuses = dict(db.session.execute(
            sa.select(MentorProfile.status, sa.func.count()).group_by(MentorProfile.status)).all())
        assert statuses[MentorStatus.APPROVED] > statuses.get(MentorStatus.PENDING, 0) > 0
        rejected = db.session.execute(
            sa.select(MentorProfile).filter_by(status=MentorStatus.REJECTED)).scalars().all()
        assert all(m.status_reason for m in rejected)
        for pending in db.session.execute(
                sa.select(MentorProfile).filter_by(status=MentorStatus.PENDING)).scalars().all():
            assert pending.certifications and all(c.document_path is None for c in pending.certifications)
            assert not db.session.execute(sa.select(Booking).filter_by(mentor_id=pending.user_id)).first()
        unverified = db.session.execute(
            sa.select(sa.func.count()).select_from(User).where(User.email_verified_at.is_(None))).scalar_one()
        assert 0 < unverified < 20


@pytest.mark.db
def test_bookings_of_a_mentor_never_overlap(seeded):
    app, _ = seeded
    with app.app_context():
        bookings = db.session.execute(
            sa.select(Booking.mentor_id, Booking.starts_at, Booking.ends_at).order_by(
                Booking.mentor_id, Booking.starts_at)).all()
        assert bookings
        for previous, current in zip(bookings, bookings[1:]):
            if previous.mentor_id == current.mentor_id:
                assert previous.ends_at <= current.starts_at


@pytest.mark.db
def test_bookings_fall_inside_the_mentors_availability(seeded):
    app, _ = seeded
    with app.app_context():
        mentors = {m.user_id: m for m in db.session.execute(sa.select(MentorProfile)).scalars()}
        rules = defaultdict(list)
        for rule in db.session.execute(sa.select(AvailabilityRule)).scalars():
            rules[rule.mentor_id].append(rule)
        exceptions = defaultdict(list)
        for exception in db.session.execute(sa.select(AvailabilityException)).scalars():
            exceptions[(exception.mentor_id, exception.on_date)].append(exception)
        bookings = db.session.execute(sa.select(Booking)).scalars().all()
        for booking in bookings:
            mentor = mentors[booking.mentor_id]
            assert mentor.status == MentorStatus.APPROVED
            assert booking.ends_at - booking.starts_at == timedelta(minutes=mentor.session_minutes)
            local_start = booking.starts_at.astimezone(ZoneInfo(mentor.timezone))
            local_end = booking.ends_at.astimezone(ZoneInfo(mentor.timezone))
            day = local_start.date()
            if (mentor.user_id, day) in exceptions:
                windows = [(e.start_time, e.end_time) for e in exceptions[(mentor.user_id, day)]]
            else:
                windows = [(r.start_time, r.end_time) for r in rules[mentor.user_id] if r.weekday == day.weekday()]
            assert any(start is not None and start <= local_start.time() and local_end.time() <= end
                       for start, end in windows), (booking.id, local_start, windows)


def test_bookings_respect_daylight_saving_time():
    """A 09:00 Berlin slot is 08:00 UTC in winter and 07:00 UTC in summer."""
    world = simulate(WorldSpec(learners=80, mentors=6, days=60, seed=5, until=date(2026, 4, 30)))
    berlin_starts = [r["starts_at"].astimezone(ZoneInfo("Europe/Berlin"))
                     for r in world.rows["bookings"] if r["mentor_id"] == world.mentor_ids[0]]
    assert berlin_starts
    assert {s.hour for s in berlin_starts} <= {9, 10, 11, 14, 15, 16, 17}
    utc_hours = {(s.dst() != timedelta(0), s.astimezone(ZoneInfo("UTC")).hour) for s in berlin_starts if s.hour == 9}
    assert all(hour == (7 if summer else 8) for summer, hour in utc_hours)


@pytest.mark.db
def test_rating_aggregates_match_reviews_and_payments_follow_outcomes(seeded):
    app, _ = seeded
    with app.app_context():
        totals = {row.mentor_id: (row.n, row.total) for row in db.session.execute(
            sa.select(Review.mentor_id, sa.func.count().label("n"), sa.func.sum(Review.rating).label("total"))
            .group_by(Review.mentor_id))}
        for mentor in db.session.execute(sa.select(MentorProfile)).scalars():
            assert (mentor.rating_count, mentor.rating_sum) == totals.get(mentor.user_id, (0, 0))
        for booking in db.session.execute(sa.select(Booking)).scalars():
            payments = booking.payments
            if booking.status in (BookingStatus.COMPLETED, BookingStatus.NO_SHOW):
                (payment,) = payments
                assert payment.status == PaymentStatus.CAPTURED and payment.gateway == "sandbox"
                assert payment.captured_minor == payment.amount_minor == booking.price_minor
                assert payment.platform_fee_minor == round(payment.amount_minor * 0.15)
            if booking.status == BookingStatus.REQUESTED:  # the learner's card is held until the mentor answers
                (payment,) = payments
                assert payment.status == PaymentStatus.AUTHORIZED and payment.captured_minor == 0
                checkout = db.session.get(PaymentCheckout, payment.id)
                assert checkout.provider_status == "authorized"
            if booking.status in (BookingStatus.REJECTED, BookingStatus.EXPIRED):
                assert not payments
            if booking.status == BookingStatus.COMPLETED:
                continue
            for payment in payments:
                assert sum(r.amount_minor for r in payment.refunds) <= payment.captured_minor
        refunded = db.session.execute(sa.select(Refund)).scalars().all()
        assert all(r.payment.booking.status.value.startswith("cancelled") for r in refunded)
        reviews = db.session.execute(sa.select(Review)).scalars().all()
        assert all(db.session.get(Booking, r.booking_id).status == BookingStatus.COMPLETED for r in reviews)


@pytest.mark.db
def test_events_lie_inside_the_simulated_window(seeded):
    app, counts = seeded
    world = counts.world
    with app.app_context():
        first, last = db.session.execute(sa.select(sa.func.min(Event.occurred_at), sa.func.max(Event.occurred_at))).one()
        assert world.starts_at <= first and last < world.now
        assert world.now == datetime(2026, 4, 1, tzinfo=ZoneInfo("UTC"))
        kinds = {k.value for k in db.session.execute(sa.select(Event.event_type).distinct()).scalars()}
        assert {"search", "profile_view", "click", "booking_request", "booking_outcome", "rating"} <= kinds
        search = db.session.execute(sa.select(Event).filter_by(event_type="search").order_by(Event.id)).scalars().first()
        assert {"query", "filters", "results"} <= set(search.payload)
        rating_events = db.session.execute(sa.select(sa.func.count()).select_from(Event).filter_by(
            event_type="rating")).scalar_one()
        assert rating_events == counts["reviews"]
        # ids follow time, as the pipelines' (occurred_at, id) watermark expects
        times = db.session.execute(sa.select(Event.occurred_at).order_by(Event.id)).scalars().all()
        assert times == sorted(times)


@pytest.mark.db
def test_new_rows_after_seeding_get_fresh_ids(seeded, make_user):
    app, counts = seeded
    user = make_user("newcomer@example.com")
    assert user.id == counts["users"] + 1


@pytest.mark.db
def test_world_exists_and_seeding_twice_is_refused(app):
    with app.app_context():
        assert not world_exists()
    _seed(app, WorldSpec(learners=5, mentors=2, days=3, seed=1, until=UNTIL))
    with app.app_context():
        assert world_exists()
    with pytest.raises(WorldExistsError):
        _seed(app, WorldSpec(learners=5, mentors=2, days=3, seed=1, until=UNTIL))


def test_learners_book_and_view_their_hidden_top_topics_far_more_than_chance():
    world = simulate(MEDIUM)
    approved = {r["user_id"] for r in world.rows["mentor_profiles"] if r["status"] == MentorStatus.APPROVED}
    pairs = [r for r in world.rows["mentor_topics"] if r["mentor_id"] in approved]
    catalogue_share = defaultdict(float)
    for row in pairs:
        catalogue_share[row["topic_id"]] += 1 / len(pairs)
    bookings = world.rows["bookings"]
    assert len(bookings) > 50
    hit = np.mean([b["topic_id"] == world.top_topic_id(b["learner_id"]) for b in bookings])
    chance = np.mean([catalogue_share[world.top_topic_id(b["learner_id"])] for b in bookings])
    assert hit > 0.5 and hit > 4 * chance

    teaches = defaultdict(set)
    for row in world.rows["mentor_topics"]:
        teaches[row["mentor_id"]].add(row["topic_id"])
    views = [e for e in world.rows["events"] if e["event_type"].value == "profile_view"]
    view_hit = np.mean([world.top_topic_id(e["user_id"]) in teaches[e["mentor_id"]] for e in views])
    view_chance = np.mean([catalogue_share[world.top_topic_id(e["user_id"])] for e in views])
    assert view_hit > 4 * view_chance


def test_declared_interests_correlate_with_hidden_tastes_but_noisily():
    world = simulate(MEDIUM)
    declared = defaultdict(set)
    for row in world.rows["learner_topics"]:
        declared[row["learner_id"]].add(row["topic_id"])
    top_declared = np.mean([world.top_topic_id(l) in declared[l] for l in world.learner_ids])
    assert 0.6 < top_declared < 1.0


def test_better_mentors_get_better_ratings():
    world = simulate(MEDIUM)
    reviews = world.rows["reviews"]
    assert len(reviews) > 30
    quality = np.array([world.quality_of(r["mentor_id"]) for r in reviews])
    ratings = np.array([r["rating"] for r in reviews])
    assert np.corrcoef(quality, ratings)[0, 1] > 0.3
    median = np.median(world.mentor_quality)
    assert ratings[quality >= median].mean() > ratings[quality < median].mean() + 0.3


@pytest.mark.db
def test_seed_command_and_if_empty(db_backend, settings, monkeypatch):
    from click.testing import CliRunner

    from api.settings import get_settings

    monkeypatch.setenv("VAR_DIR", str(settings.var_dir))
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SOCKETIO_ASYNC_MODE", "threading")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        args = ["seed", "--learners", "20", "--mentors", "5", "--days", "10", "--seed", "3", "--until", "2026-03-31"]
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert "20 learners, 5 mentors" in result.output and " events." in result.output
        again = runner.invoke(cli, [*args, "--if-empty"])
        assert again.exit_code == 0 and "already there" in again.output
        refused = runner.invoke(cli, args)
        assert refused.exit_code != 0 and "already has users" in refused.output
    finally:
        get_settings.cache_clear()


@pytest.mark.db
def test_demo_learner_and_mentor_log_in_through_the_api(seeded):
    """The logins `make run` prints must work in the real login endpoint (address validation included)."""
    app, _ = seeded
    for role in ("learner", "mentor"):
        client = app.test_client()
        token = client.get("/api/v1/csrf-token").json["csrf_token"]
        response = client.post("/api/v1/auth/login", json={"email": DEMO_LOGINS[role], "password": DEMO_PASSWORD},
                               headers={"X-CSRFToken": token})
        assert response.status_code == 200, response.json
        assert client.get("/api/v1/auth/me").json["email"] == DEMO_LOGINS[role]


@pytest.mark.db
def test_demo_mentor_can_accept_the_seeded_paid_request(app, fixed_clock):
    """The request waiting for the demo mentor holds a verified payment, so accepting it captures the money."""
    _seed(app, WorldSpec(learners=40, mentors=8, days=10, seed=5, until=None))  # a world that ends on the clock's today
    with app.app_context():
        mentor = db.session.execute(sa.select(User).filter_by(email=DEMO_LOGINS["mentor"])).scalar_one()
        pending = db.session.execute(sa.select(Booking).filter_by(
            mentor_id=mentor.id, status=BookingStatus.REQUESTED)).scalars().first()
        booking_id = pending.id
    client = app.test_client()
    token = client.get("/api/v1/csrf-token").json["csrf_token"]
    assert client.post("/api/v1/auth/login", json={"email": DEMO_LOGINS["mentor"], "password": DEMO_PASSWORD},
                       headers={"X-CSRFToken": token}).status_code == 200
    token = client.get("/api/v1/csrf-token").json["csrf_token"]
    response = client.post(f"/api/v1/bookings/{booking_id}/accept", json={}, headers={"X-CSRFToken": token})
    assert response.status_code == 200, response.json
    with app.app_context():
        assert db.session.get(Booking, booking_id).status == BookingStatus.ACCEPTED
