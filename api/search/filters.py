"""The search request: query-string parameters parsed and checked into one `SearchFilters`.

Every problem raises `FilterError` naming the parameter, which the routes turn into a 400.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Callable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from models import clock
from api.search.currency import parse_major, supported_currencies

SORTS = {
    "relevance": "Best match",
    "rating": "Top rated",
    "price_low": "Price: low to high",
    "price_high": "Price: high to low",
    "popularity": "Most booked (90 days)",
    "experience": "Most experienced",
}
# name -> (label, min years, max years or None)
EXPERIENCE_LEVELS: dict[str, tuple[str, int, int | None]] = {
    "entry": ("Up to 2 years", 0, 2),
    "mid": ("3–5 years", 3, 5),
    "senior": ("6–10 years", 6, 10),
    "expert": ("More than 10 years", 11, None),
}
LANGUAGE_NAMES = {
    "en": "English", "es": "Spanish", "fr": "French", "de": "German", "pt": "Portuguese", "it": "Italian",
    "hi": "Hindi", "ja": "Japanese", "zh": "Chinese", "ar": "Arabic", "ru": "Russian", "nl": "Dutch",
    "pl": "Polish", "tr": "Turkish", "ko": "Korean", "sv": "Swedish", "yo": "Yoruba", "mr": "Marathi",
}
MAX_QUERY_CHARS = 200
END_OF_DAY = time(23, 59, 59, 999999)  # "24:00"
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")


class FilterError(ValueError):
    """An invalid search parameter: `param` names it, the message says what is wrong."""

    def __init__(self, param: str, message: str):
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


@dataclass(frozen=True)
class AvailabilityWindow:
    """Days (inclusive) and a time-of-day window, both in the learner's zone."""

    start_date: date
    end_date: date
    day_start: time
    day_end: time  # END_OF_DAY for "24:00"
    tz: str

    def utc_intervals(self) -> list[tuple[datetime, datetime]]:
        """The window of each day as UTC instants, in order."""
        zone = ZoneInfo(self.tz)
        intervals = []
        day = self.start_date
        while day <= self.end_date:
            start = datetime.combine(day, self.day_start, tzinfo=zone)
            if self.day_end == END_OF_DAY:
                end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
            else:
                end = datetime.combine(day, self.day_end, tzinfo=zone)
            intervals.append((start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))))
            day += timedelta(days=1)
        return intervals

    def as_dict(self) -> dict:
        return {"from": self.start_date.isoformat(), "to": self.end_date.isoformat(),
                "time_from": self.day_start.strftime("%H:%M"),
                "time_to": "24:00" if self.day_end == END_OF_DAY else self.day_end.strftime("%H:%M"), "tz": self.tz}


@dataclass(frozen=True)
class SearchFilters:
    q: str = ""
    topic_ids: tuple[int, ...] = ()
    topic_slugs: tuple[str, ...] = ()
    min_rating: float | None = None
    price_min_minor: int | None = None  # in `currency`
    price_max_minor: int | None = None
    currency: str = "USD"  # the learner's display currency
    tz: str = "UTC"  # the learner's time zone
    experience: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    availability: AvailabilityWindow | None = None
    sort: str = "relevance"
    page: int = 1
    per_page: int = 12
    raw: dict = field(default_factory=dict, compare=False)  # the parameters as given (for the event log)

    def active_filters(self) -> list[str]:
        """The parameters that narrow the result, in the order a learner would relax them."""
        names = []
        if self.availability:
            names.append("availability")
        if self.min_rating is not None:
            names.append("min_rating")
        if self.price_min_minor is not None or self.price_max_minor is not None:
            names.append("price")
        if self.experience:
            names.append("experience")
        if self.languages:
            names.append("language")
        if self.topic_ids:
            names.append("topic")
        if self.q:
            names.append("q")
        return names

    def log_payload(self) -> dict:
        data = {
            "q": self.q, "topics": list(self.topic_slugs), "min_rating": self.min_rating,
            "price_min_minor": self.price_min_minor, "price_max_minor": self.price_max_minor,
            "currency": self.currency, "tz": self.tz, "experience": list(self.experience),
            "languages": list(self.languages), "sort": self.sort, "page": self.page, "per_page": self.per_page,
            "availability": self.availability.as_dict() if self.availability else None,
        }
        return data


def _as_lists(args: Mapping) -> dict[str, list]:
    """Every parameter with its values, as a plain dict: a missing one is a dict miss (a MultiDict lookup of a
    missing key builds and catches an HTTP exception, and most parameters are missing from most requests)."""
    getlist = getattr(args, "getlist", None)
    return {key: (getlist(key) if getlist else [args[key]]) for key in args.keys()}


def _values(lists: dict[str, list], name: str) -> list[str]:
    values = []
    for value in lists.get(name, ()):
        values.extend(part.strip() for part in str(value).split(",") if part.strip())
    return values


def _one(lists: dict[str, list], name: str) -> str:
    found = lists.get(name)
    value = found[0] if found else None
    return value.strip() if isinstance(value, str) else ("" if value is None else str(value))


def _parse_date(args: dict[str, list], name: str) -> date | None:
    text = _one(args, name)
    if not text:
        return None
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise FilterError(name, "must be a date as YYYY-MM-DD") from None


def _parse_time(args: dict[str, list], name: str) -> time | None:
    text = _one(args, name)
    if not text:
        return None
    if text == "24:00":
        return END_OF_DAY
    if not re.fullmatch(r"\d{2}:\d{2}", text):
        raise FilterError(name, "must be a time of day as HH:MM")
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise FilterError(name, "must be a time of day as HH:MM") from None


def _parse_int(args: dict[str, list], name: str, default: int, low: int, high: int) -> int:
    text = _one(args, name)
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise FilterError(name, "must be a whole number") from None
    if not low <= value <= high:
        raise FilterError(name, f"must be between {low} and {high}")
    return value


def parse_filters(
    args: Mapping,
    *,
    topic_ids_by_slug: Callable[[list[str]], dict[str, int]],
    default_currency: str = "USD",
    default_tz: str = "UTC",
    today: date | None = None,
    page_size: int = 12,
    max_page_size: int = 50,
    max_availability_days: int = 31,
) -> SearchFilters:
    """The search parameters of a request (query string or form), checked; FilterError on the first problem."""
    args = _as_lists(args)
    raw = {key: (values if len(values) > 1 else values[0]) for key, values in args.items()}
    q = _parse_query(args)
    currency = _parse_currency(args, default_currency)
    tz = _parse_tz(args, default_tz)
    slugs = _values(args, "topic")
    topic_ids = _topic_ids(slugs, topic_ids_by_slug)
    min_rating = _parse_min_rating(args)
    prices = _parse_prices(args, currency)
    experience = _parse_experience(args)
    languages = _parse_languages(args)
    availability = _parse_availability(args, tz, today, max_availability_days)
    sort = _parse_sort(args)
    page = _parse_int(args, "page", 1, 1, 10_000)
    per_page = _parse_int(args, "per_page", page_size, 1, max_page_size)
    return SearchFilters(
        q=q, topic_ids=topic_ids, topic_slugs=tuple(slugs), min_rating=min_rating,
        price_min_minor=prices.get("price_min"), price_max_minor=prices.get("price_max"), currency=currency,
        tz=tz, experience=tuple(dict.fromkeys(experience)), languages=tuple(dict.fromkeys(languages)),
        availability=availability, sort=sort, page=page, per_page=per_page, raw=raw,
    )


def _parse_query(args: dict[str, list]) -> str:
    q = _one(args, "q")
    if len(q) > MAX_QUERY_CHARS:
        raise FilterError("q", f"must be at most {MAX_QUERY_CHARS} characters")
    return q


def _parse_currency(args: dict[str, list], default: str) -> str:
    currency = (_one(args, "currency") or default).upper()
    if currency not in supported_currencies():
        raise FilterError("currency", "must be one of " + ", ".join(supported_currencies()))
    return currency


def _parse_tz(args: dict[str, list], default: str) -> str:
    tz = _one(args, "tz") or default
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise FilterError("tz", "must be an IANA time zone such as Europe/Berlin") from None
    return tz


def _topic_ids(slugs: list[str], topic_ids_by_slug: Callable[[list[str]], dict[str, int]]) -> tuple[int, ...]:
    if not slugs:
        return ()
    known = topic_ids_by_slug(slugs)
    unknown = [slug for slug in slugs if slug not in known]
    if unknown:
        raise FilterError("topic", f"unknown topic {unknown[0]!r}")
    return tuple(sorted({known[slug] for slug in slugs}))


def _parse_min_rating(args: dict[str, list]) -> float | None:
    text = _one(args, "min_rating")
    if not text:
        return None
    try:
        min_rating = float(text)
    except ValueError:
        raise FilterError("min_rating", "must be a number from 1 to 5") from None
    if not 1 <= min_rating <= 5:
        raise FilterError("min_rating", "must be a number from 1 to 5")
    return min_rating


def _parse_prices(args: dict[str, list], currency: str) -> dict[str, int]:
    """price_min and price_max, those given, in minor units of `currency`."""
    prices = {}
    for name in ("price_min", "price_max"):
        text = _one(args, name)
        if text:
            try:
                prices[name] = parse_major(text, currency)
            except ValueError as error:
                raise FilterError(name, f"{error} (an amount in {currency})") from None
    if "price_min" in prices and "price_max" in prices and prices["price_min"] > prices["price_max"]:
        raise FilterError("price_min", "must not be above price_max")
    return prices


def _parse_experience(args: dict[str, list]) -> list[str]:
    experience = _values(args, "experience")
    if any(level not in EXPERIENCE_LEVELS for level in experience):
        raise FilterError("experience", "must be one of " + ", ".join(EXPERIENCE_LEVELS))
    return experience


def _parse_languages(args: dict[str, list]) -> list[str]:
    languages = [value.lower() for value in _values(args, "language")]
    if not all(_LANGUAGE.match(code) for code in languages):
        raise FilterError("language", "must be an ISO 639-1 language code such as en")
    return languages


def _parse_sort(args: dict[str, list]) -> str:
    sort = _one(args, "sort") or "relevance"
    if sort not in SORTS:
        raise FilterError("sort", "must be one of " + ", ".join(SORTS))
    return sort


def _parse_availability(args: dict[str, list], tz: str, today: date | None, max_days: int) -> AvailabilityWindow | None:
    start_date = _parse_date(args, "available_from")
    end_date = _parse_date(args, "available_to")
    day_start = _parse_time(args, "time_from")
    day_end = _parse_time(args, "time_to")
    if start_date is None and end_date is None and day_start is None and day_end is None:
        return None
    today = today or clock.now().astimezone(ZoneInfo(tz)).date()
    start_date = start_date or today
    end_date = end_date or (start_date + timedelta(days=6))
    if end_date < start_date:
        raise FilterError("available_to", "must not be before available_from")
    if (end_date - start_date).days + 1 > max_days:
        raise FilterError("available_to", f"the date range may span at most {max_days} days")
    day_start = day_start or time(0)
    day_end = day_end or END_OF_DAY
    if day_start == END_OF_DAY:
        raise FilterError("time_from", "must be before time_to")
    if day_end <= day_start:
        raise FilterError("time_to", "must be after time_from")
    return AvailabilityWindow(start_date, end_date, day_start, day_end, tz)


__all__ = ["AvailabilityWindow", "EXPERIENCE_LEVELS", "FilterError", "LANGUAGE_NAMES", "SORTS", "SearchFilters",
           "parse_filters"]
