"""Free slots for discovery: which mentors have a bookable slot in a learner's window.

The slot rules are the booking feature's (`api.bookings.slots`): its `windows()` turns weekly rules
and exceptions into UTC windows, its `BookingPolicy` gives session length, step, buffer, notice and
horizon. The search asks SQL (`free_slot_condition`): the slots are precomputed per mentor in
`mentor_free_slots` by `api.search.free_slots`, which loads mentors here (`_load`) in bulk; the
recommendations ask the same index. `mentors_with_free_slot` computes the answer directly from the rules
(stopping at each mentor's first free slot): the reference the index is tested against. Both follow `slots.free_slots` exactly (same windows, same step alignment,
same notice/horizon/buffer rules); neither sees busy times from a mentor's external calendar, which the
booking page still checks.
"""
from __future__ import annotations

import math
from collections import namedtuple
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

import sqlalchemy as sa

from models import clock
from api.bookings.service import mentor_free_slots
from api.bookings.slots import BookingPolicy, Interval, windows, zone
from api.extensions import db
from api.search.filters import AvailabilityWindow
from api.settings import current_settings
from api.tables import (
    ACTIVE_BOOKING_STATUSES,
    AvailabilityException,
    AvailabilityRule,
    Booking,
    MentorBookingPolicy,
    MentorFreeSlot,
    MentorProfile,
)

UTC = timezone.utc
Rule = namedtuple("Rule", "weekday start_time end_time timezone")
Exception_ = namedtuple("Exception_", "on_date start_time end_time")


# ---------------------------------------------------------------- the search's SQL filter


def free_slot_condition(days: int):
    """SQL condition on MentorProfile: a precomputed free slot (`api.search.free_slots`) lies wholly inside one of
    the window's `days` daily spans and may be requested now. Values: `free_slot_params`."""
    slot = MentorFreeSlot
    inside = [sa.and_(slot.starts_at >= sa.bindparam(f"w_from{i}", type_=sa.BigInteger),
                      slot.ends_at <= sa.bindparam(f"w_to{i}", type_=sa.BigInteger)) for i in range(days)]
    return sa.exists().where(
        slot.mentor_id == MentorProfile.user_id,
        slot.starts_at >= sa.bindparam("w_from0", type_=sa.BigInteger),  # the whole window: one index range per mentor
        slot.starts_at < sa.bindparam(f"w_to{days - 1}", type_=sa.BigInteger),
        slot.opens_at <= sa.bindparam("w_now_floor", type_=sa.BigInteger),
        slot.closes_at >= sa.bindparam("w_now_ceil", type_=sa.BigInteger), sa.or_(*inside))


def free_slot_params(window: AvailabilityWindow, now: datetime) -> dict:
    """The bind parameters of `free_slot_condition(len(window.utc_intervals()))` (Unix seconds, as stored)."""
    instant = now.timestamp()
    params = {"w_now_floor": math.floor(instant), "w_now_ceil": math.ceil(instant)}
    for i, (start, end) in enumerate(window.utc_intervals()):
        params[f"w_from{i}"], params[f"w_to{i}"] = int(start.timestamp()), int(end.timestamp())
    return params


# ---------------------------------------------------------------- bulk load and check


def _connection():
    """The session's connection for Core reads (no ORM result processing), after the autoflush Session.execute does."""
    session = db.session()
    if session.autoflush and (session.new or session.dirty or session.deleted):
        session.flush()
    return session.connection()


class _Mentor:
    __slots__ = ("zone", "policy", "rules", "exceptions", "busy")

    def __init__(self, zone_name: str, policy: BookingPolicy):
        self.zone = zone_name
        self.policy = policy
        self.rules: list[Rule] = []
        self.exceptions: list[Exception_] = []
        self.busy: list[Interval] = []


def _policies(mentors: dict[int, tuple[int, str]], ids_clause) -> dict[int, BookingPolicy]:
    """Each mentor's BookingPolicy, as `api.bookings.policy.policy_for` builds it, for all at once."""
    settings = current_settings()
    defaults = dict(buffer_minutes=settings.booking_buffer_minutes,
                    min_notice_minutes=settings.booking_min_notice_minutes,
                    horizon_days=settings.booking_horizon_days, slot_step_minutes=settings.booking_slot_step_minutes)
    own = {row.mentor_id: row for row in _connection().execute(
        sa.select(MentorBookingPolicy.mentor_id, *[getattr(MentorBookingPolicy, name) for name in defaults])
        .where(MentorBookingPolicy.mentor_id.in_(ids_clause)))}
    policies = {}
    for mentor_id, (session_minutes, _zone) in mentors.items():
        values = dict(defaults)
        row = own.get(mentor_id)
        if row is not None:
            for name in defaults:
                if getattr(row, name) is not None:
                    values[name] = getattr(row, name)
        policies[mentor_id] = BookingPolicy(session_minutes=session_minutes, **values)
    return policies


def _load(mentors: dict[int, tuple[int, str]], lower: datetime, upper: datetime, ids_clause) -> dict[int, _Mentor]:
    policies = _policies(mentors, ids_clause)
    loaded = {mentor_id: _Mentor(zone_name or "UTC", policies[mentor_id])
              for mentor_id, (_minutes, zone_name) in mentors.items()}
    for mentor_id, weekday, start, end, zone_name in _connection().execute(
            sa.select(AvailabilityRule.mentor_id, AvailabilityRule.weekday, AvailabilityRule.start_time,
                      AvailabilityRule.end_time, AvailabilityRule.timezone)
            .where(AvailabilityRule.mentor_id.in_(ids_clause))):
        entry = loaded.get(mentor_id)
        if entry is not None:
            entry.rules.append(Rule(weekday, start, end, zone_name))
    for mentor_id, on_date, start, end in _connection().execute(
            sa.select(AvailabilityException.mentor_id, AvailabilityException.on_date,
                      AvailabilityException.start_time, AvailabilityException.end_time)
            .where(AvailabilityException.mentor_id.in_(ids_clause),
                   AvailabilityException.on_date.between((lower - timedelta(days=2)).date(),
                                                         (upper + timedelta(days=2)).date()))):
        entry = loaded.get(mentor_id)
        if entry is not None:
            entry.exceptions.append(Exception_(on_date, start, end))
    margin = timedelta(minutes=max([p.buffer_minutes + p.session_minutes for p in policies.values()] or [0]))
    for mentor_id, starts_at, ends_at in _connection().execute(
            sa.select(Booking.mentor_id, Booking.starts_at, Booking.ends_at)
            .where(Booking.mentor_id.in_(ids_clause), Booking.status.in_(ACTIVE_BOOKING_STATUSES),
                   Booking.starts_at < upper + margin, Booking.ends_at > lower - margin)):
        entry = loaded.get(mentor_id)
        if entry is not None:
            entry.busy.append(Interval(starts_at, ends_at))
    return loaded


@lru_cache(maxsize=32768)
def _windows(rules: tuple, exceptions: tuple, zone_name: str, first: date, last: date) -> tuple:
    """`slots.windows`, which is pure, memoised: the same mentors' weeks come up in search after search."""
    return tuple(windows(rules, exceptions, zone_name, first, last))


def _local_days(lower: datetime, upper: datetime, entry: _Mentor) -> tuple[date, date]:
    zones = {zone(entry.zone)} | {zone(rule.timezone or entry.zone) for rule in entry.rules}
    return (min(lower.astimezone(z).date() for z in zones) - timedelta(days=1),
            max(upper.astimezone(z).date() for z in zones))


def has_free_slot(entry: _Mentor, wanted: list[tuple[datetime, datetime]], now: datetime) -> bool:
    """Whether `slots.free_slots` would offer a slot lying wholly inside one of `wanted` (sorted UTC spans).

    Same windows and step alignment as `slots.candidate_slots`, but it jumps straight to the first
    aligned start inside each wanted span instead of listing every slot.
    """
    policy = entry.policy
    lower = max(policy.earliest_start(now), wanted[0][0])
    upper = min(policy.latest_start(now), wanted[-1][1])
    if lower > upper or not entry.rules and not entry.exceptions:
        return False
    session, step = policy.session, policy.step
    spans = _windows(tuple(entry.rules), tuple(entry.exceptions), entry.zone, *_local_days(lower, upper, entry))
    busy = entry.busy
    for span in spans:
        for want_start, want_end in wanted:
            if want_end <= span.start:
                continue
            if want_start >= span.end:
                break
            start_min = max(span.start, want_start, lower)
            k = max(math.ceil((start_min - span.start) / step), 0)
            start = span.start + k * step
            while start + session <= span.end and start + session <= want_end and start <= upper:
                slot = Interval(start, start + session)
                if not busy or not any(slot.overlaps(b, policy.buffer) for b in busy):
                    return True
                start += step
    return False


def mentors_with_free_slot(mentors: dict[int, tuple[int, str]], window: AvailabilityWindow,
                           now: datetime | None = None, mentor_ids_sql=None) -> set[int]:
    """Of `mentors` ({id: (session_minutes, zone)}), those with a free slot inside the learner's window."""
    now = now or clock.now()
    wanted = window.utc_intervals()
    if not wanted or not mentors:
        return set()
    ids_clause = mentor_ids_sql if mentor_ids_sql is not None else list(mentors)
    loaded = _load(mentors, wanted[0][0], wanted[-1][1], ids_clause)
    return {mentor_id for mentor_id, entry in loaded.items() if has_free_slot(entry, wanted, now)}


def next_free_slots(mentor: MentorProfile, limit: int, days: int, now: datetime | None = None) -> list[datetime]:
    """The mentor's next `limit` free slot starts (UTC) within `days`, from the booking feature itself."""
    now = now or clock.now()
    return [slot.start for slot in mentor_free_slots(mentor, now, now, now + timedelta(days=days))[:limit]]
