"""Free slots for discovery: which mentors have a bookable slot in a learner's window.

The slot rules are the booking feature's (`api.bookings.slots`): its `windows()` turns weekly rules
and exceptions into UTC windows, its `BookingPolicy` gives session length, step, buffer, notice and
horizon. The booking feature answers one mentor at a time (`service.mentor_free_slots`, used for a
profile's "next free slots"); a search must answer for hundreds of mentors at once, so
`mentors_with_free_slot` loads rules, exceptions, policies and bookings of all candidates in four
queries and stops at each mentor's first free slot instead of listing them all. It follows
`slots.free_slots` exactly (same windows, same step alignment, same notice/horizon/buffer rules);
it does not see busy times from a mentor's external calendar, which the booking page still checks.
"""
from __future__ import annotations

import math
import time as _time
from collections import namedtuple
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Iterable

import sqlalchemy as sa
from flask import current_app

from api.bookings.slots import BookingPolicy, Interval, windows, zone
from api.extensions import db
from api.search.filters import END_OF_DAY, AvailabilityWindow
from api.tables import (
    ACTIVE_BOOKING_STATUSES,
    AvailabilityException,
    AvailabilityRule,
    Booking,
    MentorBookingPolicy,
    MentorProfile,
)

UTC = timezone.utc
Rule = namedtuple("Rule", "weekday start_time end_time timezone")
Exception_ = namedtuple("Exception_", "on_date start_time end_time")


# ---------------------------------------------------------------- SQL prefilter


def rule_timezones() -> list[str]:
    """Distinct time zones of all availability rules (cached per app for a minute)."""
    cache = current_app.extensions.setdefault("search_cache", {})
    hit = cache.get("rule_timezones")
    if hit and hit[0] > _time.monotonic():
        return hit[1]
    zones = sorted(db.session.scalars(sa.select(AvailabilityRule.timezone).distinct()).all())
    cache["rule_timezones"] = (_time.monotonic() + 60, zones)
    return zones


def _time_literal(value: time, dialect_name: str) -> str:
    """A TIME literal as each database stores it (SQLAlchemy keeps SQLite times as 'HH:MM:SS.ffffff' text)."""
    if value == END_OF_DAY:
        value = time(23, 59, 59, 999999)
    text = value.strftime("%H:%M:%S.%f")
    return f"'{text}'" if dialect_name == "sqlite" else f"TIME '{text}'"


def rule_windows(window: AvailabilityWindow, zones: Iterable[str]) -> list[tuple[str, int, time, time]]:
    """(zone, weekday, from, to): where a weekly rule in `zone` must overlap to possibly hold a slot in `window`."""
    intervals = window.utc_intervals()
    wanted = []
    for zone_name in zones:
        tz = zone(zone_name)
        hull: dict[int, list[time]] = {}
        for start, end in intervals:
            local_start, local_end = start.astimezone(tz), end.astimezone(tz)
            day = local_start.date()
            while day <= local_end.date():
                piece_start = local_start.time() if day == local_start.date() else time(0)
                piece_end = local_end.time() if day == local_end.date() else END_OF_DAY
                if piece_end > piece_start:
                    current = hull.setdefault(day.weekday(), [piece_start, piece_end])
                    current[0], current[1] = min(current[0], piece_start), max(current[1], piece_end)
                day += timedelta(days=1)
        wanted.extend((zone_name, weekday, low, high) for weekday, (low, high) in sorted(hull.items()))
    return wanted


def _rules_exist(window: AvailabilityWindow, zones: Iterable[str], dialect_name: str, topic_ids: tuple[int, ...] = ()):
    """The mentor (mentor_profiles.user_id) has a weekly rule overlapping the window somewhere.

    The (zone, weekday, hours) pieces are a VALUES list joined on (timezone, weekday): one hash or index
    lookup per rule instead of testing a few hundred OR-ed terms on every rule row, and one SQL text
    instead of a few hundred clause objects to build and compile for every new window.
    """
    wanted = rule_windows(window, zones)
    if not wanted:
        return sa.false()
    rows = ", ".join("('" + zone_name.replace("'", "''") + f"', {int(weekday)}, {_time_literal(low, dialect_name)}, "
                     f"{_time_literal(high, dialect_name)})" for zone_name, weekday, low, high in wanted)
    return sa.text(  # uncorrelated: the database computes the set once per search (a hash, not a lookup per mentor)
        "mentor_profiles.user_id IN (SELECT availability_rules.mentor_id FROM availability_rules JOIN (VALUES "
        + rows + ") AS wanted "
        "ON availability_rules.timezone = wanted.column1 AND availability_rules.weekday = wanted.column2 "
        "WHERE availability_rules.start_time < wanted.column4 AND availability_rules.end_time > wanted.column3"
        + (" AND availability_rules.mentor_id IN (SELECT mentor_topics.mentor_id FROM mentor_topics "
           "WHERE mentor_topics.topic_id IN (" + ", ".join(str(int(t)) for t in topic_ids) + "))" if topic_ids else "")
        + ")")


def candidate_condition(window: AvailabilityWindow, topic_ids: tuple[int, ...] = ()):
    """SQL condition on MentorProfile: a weekly window or an exception's hours could hold a slot in `window`.

    `topic_ids` (the search's topic filter, applied anyway) only narrows the rules the database looks at.
    """
    return _candidate_condition(window, tuple(rule_timezones()), db.session.get_bind().dialect.name,
                                tuple(sorted(topic_ids)))


@lru_cache(maxsize=512)
def _candidate_condition(window: AvailabilityWindow, zones: tuple[str, ...], dialect_name: str,
                         topic_ids: tuple[int, ...] = ()):
    """Built once per distinct window (immutable and reusable)."""
    exceptions = sa.select(AvailabilityException.id).where(
        AvailabilityException.mentor_id == MentorProfile.user_id,
        AvailabilityException.on_date.between(window.start_date - timedelta(days=1), window.end_date + timedelta(days=1)),
        AvailabilityException.start_time.is_not(None),
    )
    return sa.or_(_rules_exist(window, zones, dialect_name, topic_ids), exceptions.exists())


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
    config = current_app.config["MENTORHUB_SETTINGS"]
    defaults = dict(buffer_minutes=config.booking_buffer_minutes, min_notice_minutes=config.booking_min_notice_minutes,
                    horizon_days=config.booking_horizon_days, slot_step_minutes=config.booking_slot_step_minutes)
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
    now = now or datetime.now(UTC)
    wanted = window.utc_intervals()
    if not wanted or not mentors:
        return set()
    ids_clause = mentor_ids_sql if mentor_ids_sql is not None else list(mentors)
    loaded = _load(mentors, wanted[0][0], wanted[-1][1], ids_clause)
    return {mentor_id for mentor_id, entry in loaded.items() if has_free_slot(entry, wanted, now)}


def next_free_slots(mentor: MentorProfile, limit: int, days: int, now: datetime | None = None) -> list[datetime]:
    """The mentor's next `limit` free slot starts (UTC) within `days`, from the booking feature itself."""
    from api.bookings.service import mentor_free_slots

    now = now or datetime.now(UTC)
    return [slot.start for slot in mentor_free_slots(mentor, now, now, now + timedelta(days=days))[:limit]]
