"""The one clock: everything that asks "now" as business time asks `clock.now()`.

The seeder, the pipelines' windows, serving, the booking jobs, payments' timeouts and every
timestamp the app writes read it, so fixing it makes a whole world give the same answer on any
date. Unfixed it is the system clock. Fix it for a process with `set_now(...)` (the CLI's
`--now`, the `CLOCK_NOW` setting), or for a block with `with fixed(...):` (tests). Elapsed
time for caches, timeouts of network calls, benchmarks and TOTP codes stays on the real
clock (`time.monotonic()` / `time.time()`): those measure the machine, not the business.

It lives in the bottom layer and imports nothing, so api, serving, pipelines, experiments and
dashboards all ask the same clock (tests/test_layout.py); the recommenders themselves never ask
it: they take times as arguments.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timezone

UTC = timezone.utc
Source = Callable[[], datetime]

_source: Source | None = None  # None: the system clock


def now() -> datetime:
    """The current instant, timezone-aware, in UTC (the fixed one when the clock is fixed)."""
    source = _source
    return datetime.now(UTC) if source is None else _aware(source())


def today() -> date:
    """Today's date in UTC, on the same clock."""
    return now().date()


def is_fixed() -> bool:
    return _source is not None


def parse(text: str) -> datetime:
    """An ISO 8601 instant ("2026-03-02T08:00:00Z"; a bare date is midnight UTC; no zone means UTC)."""
    text = text.strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return _aware(datetime.fromisoformat(text))
    return datetime.combine(day, time(), UTC)


def set_now(when: datetime | date | str | Source | None) -> Source | None:
    """Fix the clock for the whole process (an instant, ISO text or a callable); None frees it.

    Returns the previous source, so a caller can put it back with `set_now(previous)`.
    """
    global _source
    previous = _source
    _source = _as_source(when)
    return previous


@contextmanager
def fixed(when: datetime | date | str | Source) -> Iterator[None]:
    """Fix the clock inside the block and restore whatever was there before."""
    previous = set_now(when)
    try:
        yield
    finally:
        set_now(previous)


def _as_source(when) -> Source | None:
    if when is None or callable(when):
        return when
    if isinstance(when, str):
        when = parse(when)
    elif not isinstance(when, datetime):  # a date: its midnight, UTC
        when = datetime.combine(when, time(), UTC)
    instant = _aware(when)
    return lambda: instant


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
