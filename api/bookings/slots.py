"""Free slots from a mentor's weekly availability: pure functions of rules, exceptions, policy, busy times and `now`.

Weekly rules and exceptions are local wall-clock times in the mentor's zone; everything returned is UTC.
Across a daylight-saving change a window keeps its local times, so it is shorter (spring) or longer
(autumn) in real time; slots step through real time, so none is ever offered twice or at a local time
that does not exist.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Iterable, Protocol, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = timezone.utc


@dataclass(frozen=True)
class BookingPolicy:
    """How a mentor's time can be booked."""

    session_minutes: int = 60
    buffer_minutes: int = 0
    min_notice_minutes: int = 240
    horizon_days: int = 60
    slot_step_minutes: int = 0  # 0: the session length

    @property
    def session(self) -> timedelta:
        return timedelta(minutes=self.session_minutes)

    @property
    def buffer(self) -> timedelta:
        return timedelta(minutes=self.buffer_minutes)

    @property
    def step(self) -> timedelta:
        return timedelta(minutes=self.slot_step_minutes or self.session_minutes)

    def earliest_start(self, now: datetime) -> datetime:
        return now + timedelta(minutes=self.min_notice_minutes)

    def latest_start(self, now: datetime) -> datetime:
        return now + timedelta(days=self.horizon_days)


@dataclass(frozen=True, order=True)
class Interval:
    """A half-open span [start, end) of UTC time."""

    start: datetime
    end: datetime

    def overlaps(self, other: "Interval", margin: timedelta = timedelta(0)) -> bool:
        return self.start < other.end + margin and other.start - margin < self.end


class RuleLike(Protocol):
    weekday: int
    start_time: time
    end_time: time
    timezone: str


class ExceptionLike(Protocol):
    on_date: date
    start_time: time | None
    end_time: time | None


@lru_cache(maxsize=1024)
def zone(name: str | None) -> ZoneInfo:
    """The IANA zone, UTC when the name is empty or unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@lru_cache(maxsize=65536)  # pure: (day, wall clock, zone) -> instant; searches and bookings ask the same ones often
def local_to_utc(day: date, clock: time, tz: ZoneInfo) -> datetime:
    """A local wall-clock time as UTC: the first occurrence when it is ambiguous (autumn), and the first
    real minute after the gap when it does not exist (spring)."""
    naive = datetime.combine(day, clock.replace(tzinfo=None))
    for _ in range(24 * 60):
        candidate = naive.replace(tzinfo=tz, fold=0)
        as_utc = candidate.astimezone(UTC)
        if as_utc.astimezone(tz).replace(tzinfo=None) == naive:
            return as_utc
        naive += timedelta(minutes=1)  # inside a gap: move to its end
    raise ValueError(f"no valid local time near {day} {clock} in {tz}")


def windows(
    rules: Iterable[RuleLike],
    exceptions: Iterable[ExceptionLike],
    mentor_zone: str,
    first_day: date,
    last_day: date,
) -> list[Interval]:
    """Available UTC windows on local days first_day..last_day (inclusive), merged where they touch.

    An exception on a date replaces that date's weekly rules: with no times it is a day off (holiday);
    with times it gives the hours of that day instead.
    """
    home = zone(mentor_zone)
    by_date: dict[date, list[ExceptionLike]] = {}
    for exception in exceptions:
        by_date.setdefault(exception.on_date, []).append(exception)
    rules = list(rules)
    spans: list[Interval] = []
    day = first_day
    while day <= last_day:
        overrides = by_date.get(day)
        if overrides is not None:
            if all(o.start_time is not None and o.end_time is not None for o in overrides):
                for o in overrides:
                    spans.append(_span(day, o.start_time, o.end_time, home))
        else:
            for rule in rules:
                if rule.weekday == day.weekday():
                    spans.append(_span(day, rule.start_time, rule.end_time, zone(rule.timezone or mentor_zone)))
        day += timedelta(days=1)
    return _merge(s for s in spans if s.start < s.end)


def _span(day: date, start: time, end: time, tz: ZoneInfo) -> Interval:
    return Interval(local_to_utc(day, start, tz), local_to_utc(day, end, tz))


def _merge(spans: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for span in sorted(spans):
        if merged and span.start <= merged[-1].end:
            if span.end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, span.end)
        else:
            merged.append(span)
    return merged


def candidate_slots(spans: Iterable[Interval], policy: BookingPolicy) -> list[Interval]:
    """Every session-long slot inside the windows, stepping from each window's start."""
    slots: list[Interval] = []
    session, step = policy.session, policy.step
    for span in spans:
        start = span.start
        while start + session <= span.end:
            slots.append(Interval(start, start + session))
            start += step
    return slots


def free_slots(
    rules: Sequence[RuleLike],
    exceptions: Sequence[ExceptionLike],
    mentor_zone: str,
    policy: BookingPolicy,
    now: datetime,
    busy: Iterable[Interval] = (),
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[Interval]:
    """The slots a learner may request: inside availability, after the minimum notice, within the
    horizon, and at least the buffer away from every busy interval. `start`/`end` narrow the range."""
    lower = max(policy.earliest_start(now), start or now)
    upper = min(policy.latest_start(now), end or policy.latest_start(now))
    if lower > upper:
        return []
    spans = windows(rules, exceptions, mentor_zone, *_local_days(lower, upper, mentor_zone, rules))
    busy = sorted(busy)
    result = []
    for slot in candidate_slots(spans, policy):
        if slot.start < lower or slot.start > upper:
            continue
        if any(slot.overlaps(b, policy.buffer) for b in busy):
            continue
        result.append(slot)
    return result


def _local_days(lower: datetime, upper: datetime, mentor_zone: str, rules: Sequence[RuleLike]) -> tuple[date, date]:
    """Local days that can hold a window touching [lower, upper], whatever zone a rule is in."""
    zones = {zone(mentor_zone)} | {zone(r.timezone or mentor_zone) for r in rules}
    firsts = [lower.astimezone(z).date() for z in zones]
    lasts = [upper.astimezone(z).date() for z in zones]
    return min(firsts) - timedelta(days=1), max(lasts)


class SlotRefusal(ValueError):
    """Why a requested start is not offered; `field` names the request field at fault."""

    def __init__(self, message: str, field: str = "starts_at"):
        super().__init__(message)
        self.message = message
        self.field = field


def check_offered(
    starts_at: datetime,
    rules: Sequence[RuleLike],
    exceptions: Sequence[ExceptionLike],
    mentor_zone: str,
    policy: BookingPolicy,
    now: datetime,
) -> Interval:
    """The slot starting at `starts_at` if availability and policy offer it (busy times aside), else SlotRefusal."""
    if starts_at.tzinfo is None:
        raise SlotRefusal("starts_at must include a time zone offset, e.g. 2026-03-01T10:00:00Z.")
    starts_at = starts_at.astimezone(UTC)
    if starts_at <= now:
        raise SlotRefusal("That time is in the past.")
    if starts_at < policy.earliest_start(now):
        hours = policy.min_notice_minutes / 60
        raise SlotRefusal(f"This mentor needs at least {hours:g} hours' notice; choose a later time.")
    if starts_at > policy.latest_start(now):
        raise SlotRefusal(f"Bookings open at most {policy.horizon_days} days ahead; choose an earlier time.")
    day_before = starts_at - timedelta(days=1)
    spans = windows(rules, exceptions, mentor_zone, *_local_days(day_before, starts_at + timedelta(days=1),
                                                                 mentor_zone, rules))
    session, step = policy.session, policy.step
    for span in spans:  # is starts_at one of candidate_slots(spans, policy)? (without listing them all)
        if span.start <= starts_at and starts_at + session <= span.end and (starts_at - span.start) % step == timedelta(0):
            return Interval(starts_at, starts_at + session)
    raise SlotRefusal("That time is outside the mentor's availability; pick one of the offered slots.")
