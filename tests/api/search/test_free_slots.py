"""The precomputed free-slot index behind the availability filter: current after every write, and exact
(the same answer as the slot engine, across daylight-saving changes). SQLite and PostgreSQL."""
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from api.bookings import service
from api.extensions import db
from api.search import availability, free_slots, query
from api.search.filters import AvailabilityWindow, SearchFilters
from api.tables import (
    AvailabilityException,
    AvailabilityRule,
    Booking,
    BookingStatus,
    MentorBookingPolicy,
    MentorFreeSlot,
    MentorProfile,
    User,
)
from tests.api.search.discovery_helpers import next_weekday

pytestmark = pytest.mark.db

UTC = timezone.utc


def ids(client, query_string: str) -> list[int]:
    response = client.get("/api/v1/mentors?" + query_string)
    assert response.status_code == 200, response.get_json()
    return [m["id"] for m in response.get_json()["mentors"]]


def window(day: date, start: str, end: str, tz: str) -> str:
    return f"available_from={day}&available_to={day}&time_from={start}&time_to={end}&tz={tz}"


def test_a_booking_of_the_last_free_slot_hides_the_mentor_until_it_is_cancelled(app, client, world):
    saturday = next_weekday(5, "Europe/Berlin")
    late_morning = window(saturday, "11:00", "12:00", "Europe/Berlin")  # Ben's last slot of the day
    assert ids(client, late_morning) == [world.ben]
    with app.app_context():
        learner = db.session.get(User, world.learner)
        start = datetime.combine(saturday, time(11), tzinfo=ZoneInfo("Europe/Berlin"))
        booking = service.request_booking(learner, world.ben, start)
        booking_id = booking.id
    assert ids(client, late_morning) == []
    assert ids(client, window(saturday, "10:00", "11:00", "Europe/Berlin")) == [world.ben]  # the other slot is free
    with app.app_context():
        service.cancel(booking_id, db.session.get(User, world.learner), "plans changed")
    assert ids(client, late_morning) == [world.ben]


def test_a_changed_weekly_rule_moves_the_mentor_to_the_new_day(app, client, world):
    saturday, sunday = next_weekday(5, "Europe/Berlin"), next_weekday(6, "Europe/Berlin")
    assert ids(client, window(saturday, "10:00", "12:00", "Europe/Berlin")) == [world.ben]
    with app.app_context():
        profile = db.session.get(MentorProfile, world.ben)
        profile.availability = [AvailabilityRule(weekday=6, start_time=time(10), end_time=time(12),
                                                 timezone="Europe/Berlin")]
        db.session.commit()
    assert ids(client, window(saturday, "10:00", "12:00", "Europe/Berlin")) == []
    assert ids(client, window(sunday, "10:00", "12:00", "Europe/Berlin")) == [world.ben]


def test_exceptions_take_a_day_off_and_add_hours(app, client, world):
    monday = next_weekday(0, "UTC")
    morning = window(monday, "09:00", "12:00", "UTC")
    assert ids(client, morning) == [world.ada]
    with app.app_context():
        db.session.add(AvailabilityException(mentor_id=world.ada, on_date=monday))  # a day off
        db.session.add(AvailabilityException(mentor_id=world.dan, on_date=monday, start_time=time(10),
                                             end_time=time(11)))  # Dan has no weekly rules, but this morning
        db.session.commit()
    assert ids(client, morning) == [world.dan]


def test_policy_and_session_length_changes_apply(app, client, world):
    monday = next_weekday(0, "Europe/Madrid", min_days=3)
    evening = window(monday, "19:30", "21:00", "Europe/Madrid")  # 60-minute slots at 18, 19, 20: 20:00 fits
    assert ids(client, evening) == [world.carla]
    with app.app_context():
        db.session.get(MentorProfile, world.carla).session_minutes = 90  # slots 18:00-19:30 and 19:30-21:00
        db.session.commit()
    assert ids(client, window(monday, "19:30", "21:00", "Europe/Madrid")) == [world.carla]
    assert ids(client, window(monday, "20:00", "21:00", "Europe/Madrid")) == []
    with app.app_context():
        db.session.add(MentorBookingPolicy(mentor_id=world.carla, horizon_days=1))  # bookable one day ahead only
        db.session.commit()
    assert ids(client, evening) == []


def test_rows_run_to_the_horizon_and_roll_forward(app, client, world):
    ids(client, "sort=rating")  # the first search builds the index
    with app.app_context():
        def last_slot():  # Eve (pending, so never shown) is available every day, around the clock
            return db.session.scalar(sa.select(sa.func.max(MentorFreeSlot.starts_at))
                                     .where(MentorFreeSlot.mentor_id == world.eve))

        def runs_to(start):  # each mentor's rows cover the horizon (60 days by default) from the anchor, and a margin
            end = start + timedelta(days=60)
            return free_slots.seconds(end) <= last_slot() < free_slots.seconds(end + free_slots.MARGIN)

        anchor = free_slots.anchor()
        assert runs_to(anchor)
        later = anchor + free_slots.ROLL_AFTER + timedelta(hours=12)
        assert free_slots.refresh(now=later) == "rolled"
        assert free_slots.anchor() == later and runs_to(later)
        past = db.session.scalar(sa.select(sa.func.count()).select_from(MentorFreeSlot)
                                 .where(MentorFreeSlot.starts_at < free_slots.seconds(later - free_slots.LOOKBACK)))
        assert past == 0
        assert free_slots.refresh(now=later + timedelta(hours=1)) == "nothing"


# ---------------------------------------------------------------- exact: the same answer as the slot engine

NOW = datetime(2027, 3, 22, 12, 0, tzinfo=UTC)  # the week Europe moves its clocks (Sunday 28 March, 02:00 -> 03:00)
ZONES = ("Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC")


def _dst_mentors(learner_id: int) -> list[int]:
    """Mentors whose weekly windows straddle the spring-forward night, one with a booking and a buffer."""
    made = []
    for i, (zone_name, start, end, minutes) in enumerate([
            ("Europe/Berlin", time(1), time(4), 60), ("Europe/Berlin", time(0), time(3), 45),
            ("Europe/London", time(0, 30), time(2, 30), 30), ("America/New_York", time(20), time(23, 30), 90),
            ("Asia/Kolkata", time(6), time(9), 60)]):
        user = User(email=f"dst{i}@example.com", full_name=f"Dst Mentor {i}")
        db.session.add(user)
        db.session.flush()
        db.session.add(MentorProfile(user_id=user.id, price_minor=5000, currency="USD", status="approved",
                                     timezone=zone_name, session_minutes=minutes))
        db.session.flush()
        for weekday in (5, 6):
            db.session.add(AvailabilityRule(mentor_id=user.id, weekday=weekday, start_time=start, end_time=end,
                                            timezone=zone_name))
        made.append(user.id)
    booked = datetime(2027, 3, 28, 0, 0, tzinfo=UTC)  # Berlin 01:00 CET, the first slot of mentor 0
    db.session.add(Booking(mentor_id=made[0], learner_id=learner_id, starts_at=booked,
                           ends_at=booked + timedelta(hours=1), status=BookingStatus.ACCEPTED, price_minor=1,
                           currency="USD"))
    db.session.add(MentorBookingPolicy(mentor_id=made[1], buffer_minutes=15))
    db.session.commit()
    return made


def test_the_index_answers_exactly_as_the_slot_engine_across_a_dst_change(app, world):
    with app.app_context():
        free_slots.build(now=NOW)  # anchored in the test's clock
        db.session.commit()
        made = _dst_mentors(world.learner)  # written after the build: kept current by the commit hook
        mentors = {m.user_id: (m.session_minutes, m.timezone) for m in db.session.scalars(  # whom a search shows
            sa.select(MentorProfile).join(User, User.id == MentorProfile.user_id)
            .where(MentorProfile.status == "approved", User.is_active_account.is_(True)))}
        checked = 0
        for tz in ZONES:
            for day in (date(2027, 3, 27), date(2027, 3, 28), date(2027, 3, 29)):
                for start, end in ((time(0), time(3)), (time(1), time(2)), (time(5), time(10)), (time(18), time(23)),
                                   (time(0), time(23, 59, 59, 999999))):
                    span = AvailabilityWindow(day, day + timedelta(days=1), start, end, tz)
                    result = query.search_mentors(SearchFilters(availability=span, per_page=50, tz=tz), now=NOW,
                                                  suggest=False)
                    expected = availability.mentors_with_free_slot(mentors, span, NOW)
                    assert {card.id for card in result.mentors} == expected, (tz, day, start, end)
                    checked += bool(expected & set(made))
        assert checked > 10  # the DST mentors were in play, not only absent
