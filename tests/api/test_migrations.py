"""Migrations run up and down on both databases; the database itself guards bookings and events."""
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from api.extensions import db
from api.tables import Booking, BookingStatus, Event, EventType, MentorProfile, MentorStatus, User

pytestmark = pytest.mark.db

START = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)


def _table_names() -> set[str]:
    return set(sa.inspect(db.engine).get_table_names())


def test_migrations_downgrade_to_base_and_upgrade_again(app):
    with app.app_context():
        assert {"users", "bookings", "events", "messages", "ab_arms"} <= _table_names()
        downgrade(revision="base")
        assert _table_names() <= {"alembic_version"}
        upgrade()
        assert {"users", "bookings", "events", "messages", "ab_arms"} <= _table_names()


def _mentor_and_learner():
    mentor = User(email="mentor@example.com", full_name="Mara Mentor")
    learner = User(email="learner@example.com", full_name="Leo Learner")
    db.session.add_all([mentor, learner])
    db.session.flush()
    db.session.add(MentorProfile(user_id=mentor.id, price_minor=5000, currency="USD", status=MentorStatus.APPROVED))
    db.session.commit()
    return mentor.id, learner.id


def _booking(mentor_id, learner_id, start, minutes=60, status=BookingStatus.ACCEPTED):
    return Booking(mentor_id=mentor_id, learner_id=learner_id, starts_at=start,
                   ends_at=start + timedelta(minutes=minutes), status=status, price_minor=5000, currency="USD")


@pytest.mark.parametrize("db_backend", ["postgresql"])  # SQLite serialises bookings with BEGIN IMMEDIATE instead
def test_exclusion_constraint_rejects_overlapping_active_bookings(app):
    with app.app_context():
        mentor_id, learner_id = _mentor_and_learner()
        db.session.add(_booking(mentor_id, learner_id, START))
        db.session.commit()
        db.session.add(_booking(mentor_id, learner_id, START + timedelta(minutes=30), status=BookingStatus.REQUESTED))
        with pytest.raises(sa.exc.IntegrityError, match="ex_bookings_mentor_no_overlap"):
            db.session.commit()
        db.session.rollback()


def test_back_to_back_and_inactive_bookings_are_allowed(app):
    with app.app_context():
        mentor_id, learner_id = _mentor_and_learner()
        db.session.add(_booking(mentor_id, learner_id, START))
        db.session.add(_booking(mentor_id, learner_id, START + timedelta(hours=1)))  # 11:00-12:00 after 10:00-11:00
        db.session.add(_booking(mentor_id, learner_id, START, status=BookingStatus.CANCELLED_BY_LEARNER))
        db.session.commit()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Booking)) == 3


def test_times_round_trip_in_utc(app):
    with app.app_context():
        mentor_id, learner_id = _mentor_and_learner()
        berlin = timezone(timedelta(hours=1))
        db.session.add(_booking(mentor_id, learner_id, datetime(2026, 12, 1, 11, 0, tzinfo=berlin)))
        db.session.commit()
        db.session.expire_all()
        stored = db.session.scalars(sa.select(Booking)).one()
        assert stored.starts_at == START and stored.starts_at.tzinfo is not None


def test_events_are_append_only(app):
    with app.app_context():
        db.session.add(Event(event_type=EventType.SEARCH, payload={"query": "python"}))
        db.session.commit()
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            db.session.execute(sa.update(Event).values(payload={"query": "changed"}))
            db.session.commit()
        db.session.rollback()
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            db.session.execute(sa.delete(Event))
            db.session.commit()
        db.session.rollback()
        assert db.session.scalars(sa.select(Event.payload)).one() == {"query": "python"}
