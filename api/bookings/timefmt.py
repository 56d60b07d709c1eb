"""Showing UTC times in a viewer's own time zone."""
from __future__ import annotations

from datetime import datetime, timezone

from api.bookings.slots import zone


def local(dt: datetime, tz_name: str | None) -> datetime:
    return dt.astimezone(zone(tz_name))


def format_when(start: datetime, end: datetime | None, tz_name: str | None) -> str:
    """'Mon 2 Mar 2026, 14:00–15:00 CET' in the viewer's zone (the zone's abbreviation disambiguates DST)."""
    begin = local(start, tz_name)
    text = f"{begin:%a} {begin.day} {begin:%b %Y}, {begin:%H:%M}"
    if end is not None:
        finish = local(end, tz_name)
        text += f"–{finish:%H:%M}"
        if finish.date() != begin.date():
            text += f" (+{(finish.date() - begin.date()).days}d)"
        text += f" {finish.tzname()}" if finish.tzname() == begin.tzname() else f" {begin.tzname()}/{finish.tzname()}"
    else:
        text += f" {begin.tzname()}"
    return text


def format_time(dt: datetime, tz_name: str | None) -> str:
    value = local(dt, tz_name)
    return f"{value:%H:%M} {value.tzname()}"


def format_span(start: datetime, end: datetime, tz_name: str | None) -> str:
    """'13:30–14:30 IST' (both zone names when a DST change falls inside)."""
    begin, finish = local(start, tz_name), local(end, tz_name)
    if begin.tzname() == finish.tzname():
        return f"{begin:%H:%M}–{finish:%H:%M} {finish.tzname()}"
    return f"{begin:%H:%M} {begin.tzname()}–{finish:%H:%M} {finish.tzname()}"


def format_day(dt: datetime, tz_name: str | None) -> str:
    value = local(dt, tz_name)
    return f"{value:%A} {value.day} {value:%B %Y}"


def iso_utc(dt: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, or None."""
    return dt.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if dt else None
