"""Checking every row with the app's own rules, and planning what to write (inside an app context; reads only).

Each table is checked after the ones it refers to: a row that refers to a bad row is bad too (its problem
names the row it depends on). A row whose natural key (e-mail, topic slug, external id) is already in the
database is "already there": it is counted and left as it is, so running an import twice adds nothing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from argon2 import extract_parameters
from argon2.exceptions import InvalidHashError

from models import clock
from api import money
from api.auth.validation import check_full_name, check_time_zone, normalise_email, normalise_phone
from api.extensions import db
from api.importer import schema
from api.importer.reading import SourceRow, as_datetime, as_integer, as_list, as_text
from api.profiles import service as profiles
from api.reviews import service as reviews
from api.tables import (
    Booking,
    BookingStatus,
    Event,
    EventType,
    LearnerProfile,
    MentorProfile,
    Payment,
    Review,
    Topic,
    User,
)

IMPORT_SOURCE = "import"  # payload["source"] of the events an import writes; payload["external_id"] is the row's id
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
WINDOW = re.compile(r"^(?P<day>[A-Za-z]+|\d)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})$")
SESSION_LIMITS = (15, 240)  # minutes, as the database's check on mentor profiles


@dataclass
class Plan:
    """What the import will write, and what it found already there; `bad` holds the rows it will not write."""

    topics: list[dict] = field(default_factory=list)
    users: list[dict] = field(default_factory=list)
    mentors: list[dict] = field(default_factory=list)
    bookings: list[dict] = field(default_factory=list)
    payments: list[dict] = field(default_factory=list)
    reviews: list[dict] = field(default_factory=list)
    already_there: dict[str, int] = field(default_factory=dict)
    bad: list[SourceRow] = field(default_factory=list)

    def count_existing(self, table: str) -> None:
        self.already_there[table] = self.already_there.get(table, 0) + 1


def _check(row: SourceRow, column: str, check, *, required: bool = False):
    """row[column] through `check` (None when empty and optional); a failure is recorded on the row."""
    value = row.values.get(column)
    if value is None:
        if required:
            row.problem(column, "is required")
        return None
    try:
        return check(value)
    except (ValueError, TypeError) as error:  # FieldError is a ValueError
        row.problem(column, getattr(error, "message", None) or str(error))
    except reviews.ReviewError as error:
        row.problem(column, error.message)
    return None


def _values(row: SourceRow, table: str, checks: dict) -> dict:
    """The row's columns through their checks, in the order given; required where the schema says so."""
    required = {column.name for column in schema.TABLES[table] if column.required}
    return {column: _check(row, column, check, required=column in required) for column, check in checks.items()}


def _integer(accept, message: str):
    """An integer that `accept` takes, else `message`."""
    def check(value) -> int:
        number = as_integer(value)
        if not accept(number):
            raise ValueError(message)
        return number
    return check


NOT_NEGATIVE = _integer(lambda number: number >= 0, "must not be negative")


def _one_of(choices: tuple[str, ...]):
    def check(value) -> str:
        text = as_text(value).lower()
        if text not in choices:
            raise ValueError("must be one of: " + ", ".join(choices))
        return text
    return check


def _text(limit: int, *, collapse: bool = False):
    def check(value) -> str:
        text = as_text(value)
        if collapse:
            text = " ".join(text.split())
        if len(text) > limit:
            raise ValueError(f"use at most {limit} characters")
        return text
    return check


def _past(value) -> datetime:
    instant = as_datetime(value)
    if instant > clock.now():
        raise ValueError("is in the future")
    return instant


def _password_hash(value) -> str:
    text = as_text(value)
    try:
        extract_parameters(text)
    except (InvalidHashError, ValueError):
        raise ValueError("must be an argon2 hash in PHC format ($argon2id$v=19$m=...,t=...,p=...$salt$hash)") from None
    return text


def _windows(value) -> list[dict]:
    """"mon 09:00-12:00; wed 14:00-18:00" -> [{weekday, start, end}] (the profile service checks them)."""
    windows = []
    for item in as_list(value):
        match = WINDOW.match(item)
        if not match:
            raise ValueError(f"write each weekly window as 'mon 09:00-12:00' (got {item!r})")
        day = match["day"].lower()
        if day.isdigit():
            weekday = int(day) if int(day) <= 6 else None
        else:
            weekday = next((i for i, name in enumerate(profiles.WEEKDAYS)
                            if len(day) >= 3 and name.lower().startswith(day)), None)
        if weekday is None:
            raise ValueError(f"unknown weekday {match['day']!r} (mon..sun, or 0 for Monday to 6 for Sunday)")
        windows.append({"weekday": weekday, "start": match["start"].zfill(5), "end": match["end"].zfill(5)})
    return windows


def _availability(value) -> list:
    """Weekly windows, at least one, checked by the profile service (sorted, each ending after it starts, none
    overlapping)."""
    windows = _windows(value)
    if not windows:
        raise ValueError("give at least one weekly window, e.g. 'mon 09:00-12:00'")
    return profiles.parse_windows(windows, "availability")


def _headline(value) -> str:
    headline = _text(200, collapse=True)(value)
    if not headline:
        raise ValueError("is required")
    return headline


def _past_roles(value) -> list[str]:
    roles = as_list(value)
    if len(roles) > 20 or any(len(role) > 200 for role in roles):
        raise ValueError("list at most 20 past roles of up to 200 characters each")
    return roles


def _mentor_price(currency: str | None):
    """A mentor's price in minor units of `currency`: above 0, at most the profile's maximum."""
    most = profiles.MAX_PRICE_MAJOR * 10 ** money.exponent(currency) if currency else None
    return _integer(lambda price: price > 0 and (most is None or price <= most),
                    f"must be more than 0 and at most {profiles.MAX_PRICE_MAJOR:,} {currency or 'in its currency'} "
                    "(in minor units, e.g. 4500 for 45.00)")


SESSION_MINUTES = _integer(lambda minutes: minutes in profiles.SESSION_LENGTHS,
                           "must be one of " + ", ".join(map(str, profiles.SESSION_LENGTHS)))


class Checker:
    """Checks the tables in schema order; `plan` collects what to write."""

    def __init__(self) -> None:
        self.plan = Plan()
        self.topic_slugs = set(db.session.scalars(sa.select(Topic.slug)))
        self.bad_topics: dict[str, SourceRow] = {}
        self.users: dict[str, dict] = {}  # e-mail -> {"roles", "timezone", "user_id" (existing) or "row"}
        self.bad_users: dict[str, SourceRow] = {}
        self.mentors: dict[str, dict] = {}  # e-mail -> {"user_id" or "row", "price_minor", "currency", ...}
        self.bad_mentors: dict[str, SourceRow] = {}
        self.bookings: dict[str, dict] = {}  # external id -> planned or existing booking facts
        self.bad_bookings: dict[str, SourceRow] = {}

    # -- helpers -----------------------------------------------------------------------------

    def _reject(self, row: SourceRow) -> None:
        self.plan.bad.append(row)

    def _duplicate(self, row: SourceRow, column: str, key: str, seen: dict[str, int]) -> bool:
        if key in seen:
            row.problem(column, f"appears twice in the file (also row {seen[key]})")
            return True
        seen[key] = row.number
        return False

    def _unique(self, row: SourceRow, column: str, check, seen: dict[str, int]) -> str | None:
        """The row's required key column (e-mail, external id), None when bad or already earlier in the file."""
        key = _check(row, column, check, required=True)
        if key and self._duplicate(row, column, key, seen):
            return None
        return key

    def _dependency(self, row: SourceRow, column: str, key: str, bad: dict[str, SourceRow], what: str) -> bool:
        """True (and a problem on the row) when the row refers to a row that is not imported."""
        source = bad.get(key)
        if source is not None:
            row.problem(column, f"{what} is not imported: {source.file} row {source.number} is bad")
            return True
        return False

    def _existing_user(self, email: str) -> User | None:
        return db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == email))

    def _user_facts(self, row: SourceRow, column: str, email: str | None, role: str) -> dict | None:
        """A user the row refers to (in the users file or the database), who must have `role`."""
        if email is None:
            return None
        if self._dependency(row, column, email, self.bad_users, f"user {email}"):
            return None
        facts = self.users.get(email)
        if facts is None:
            user = self._existing_user(email)
            if user is None:
                row.problem(column, "no user with this e-mail (add them to users.csv)")
                return None
            facts = self.users[email] = {"user_id": user.id, "roles": set(user.role_names), "timezone": user.timezone,
                                         "currency": user.currency}
        if role not in facts["roles"]:
            row.problem(column, f"{email} is not a {role}")
            return None
        return facts

    # -- topics ------------------------------------------------------------------------------

    def topics(self, rows: list[SourceRow]) -> None:
        seen: dict[str, int] = {}
        for row in rows:
            slug = _check(row, "slug", _slug, required=True)
            name = _check(row, "name", _text(120, collapse=True), required=True)
            category = _check(row, "category", _text(64, collapse=True), required=True)
            if slug and self._duplicate(row, "slug", slug, seen):
                pass
            if row.bad:
                if slug:
                    self.bad_topics[slug] = row
                self._reject(row)
            elif slug in self.topic_slugs:
                self.plan.count_existing("topics")
            else:
                self.topic_slugs.add(slug)
                self.plan.topics.append({"row": row, "slug": slug, "name": name, "category": category})

    def _topic_list(self, row: SourceRow, column: str, *, required: bool) -> list[str]:
        slugs = _check(row, column, as_list, required=required) or []
        if required and row.values.get(column) is not None and not slugs:
            row.problem(column, "give at least one topic slug")
        for slug in slugs:
            if slug in self.bad_topics:
                self._dependency(row, column, slug, self.bad_topics, f"topic {slug}")
            elif slug not in self.topic_slugs:
                row.problem(column, f"unknown topic {slug!r} (topics are named by slug, e.g. "
                                    f"{next(iter(sorted(self.topic_slugs)), 'python')}; add new ones in topics.csv)")
        return list(dict.fromkeys(slugs))

    # -- users -------------------------------------------------------------------------------

    def users_file(self, rows: list[SourceRow]) -> None:
        seen: dict[str, int] = {}
        for row in rows:
            email = self._unique(row, "email", normalise_email, seen)
            full_name = _check(row, "full_name", check_full_name, required=True)
            roles = _check(row, "roles", _roles, required=True)
            phone = _check(row, "phone", normalise_phone)
            zone = _check(row, "timezone", check_time_zone) or "UTC"
            currency = _check(row, "currency", money.check_currency) or money.default_currency(zone, phone)
            password_hash = _check(row, "password_hash", _password_hash)
            verified_at = _check(row, "email_verified_at", _past)
            created_at = _check(row, "created_at", _past)
            interests = _check(row, "interests", _text(2000)) or ""
            topic_slugs = self._topic_list(row, "topics", required=False)
            if row.bad:
                if email:
                    self.bad_users[email] = row
                self._reject(row)
                continue
            existing = self._existing_user(email)
            facts = {"roles": set(roles), "timezone": zone, "currency": currency}
            if existing is not None:
                has_learner_profile = db.session.get(LearnerProfile, existing.id) is not None
                new_roles = set(roles) - existing.role_names
                facts.update(user_id=existing.id, roles=set(roles) | existing.role_names, timezone=existing.timezone,
                             currency=existing.currency)
                if not new_roles and ("learner" not in roles or has_learner_profile):
                    self.plan.count_existing("users")
                    self.users[email] = facts
                    continue
            self.users[email] = facts
            self.plan.users.append({
                "row": row, "email": email, "full_name": full_name, "roles": roles, "phone": phone, "timezone": zone,
                "currency": currency, "password_hash": password_hash, "email_verified_at": verified_at,
                "created_at": created_at, "interests": interests, "topics": topic_slugs,
                "user_id": existing.id if existing is not None else None,
            })

    # -- mentor profiles ---------------------------------------------------------------------

    def mentors_file(self, rows: list[SourceRow]) -> None:
        seen: dict[str, int] = {}
        for row in rows:
            email = self._unique(row, "email", normalise_email, seen)
            values = _values(row, "mentors", {"headline": _headline, "bio": _text(5000)})
            values["topics"] = self._topic_list(row, "topics", required=True)
            currency = values["currency"] = _check(row, "currency", profiles.check_currency, required=True)
            values.update(_values(row, "mentors", {
                "price_minor": _mentor_price(currency),
                "years_experience": _integer(lambda years: 0 <= years <= 70, "must be from 0 to 70"),
                "languages": lambda value: profiles.check_languages(as_list(value)),
                "session_minutes": SESSION_MINUTES,
                "availability": _availability,
                "past_roles": _past_roles,
                "status": _one_of(schema.MENTOR_STATUSES),
                "created_at": _past,
            }))
            user = self._user_facts(row, "email", email, "mentor") if email else None
            if row.bad or user is None:
                if email:
                    self.bad_mentors[email] = row
                self._reject(row)
            elif user.get("user_id") and (existing := db.session.get(MentorProfile, user["user_id"])):
                self.plan.count_existing("mentors")
                self.mentors[email] = {"user_id": existing.user_id, "price_minor": existing.price_minor,
                                       "currency": existing.currency, "session_minutes": existing.session_minutes}
            else:
                self._plan_mentor(row, email, values, user)

    def _plan_mentor(self, row: SourceRow, email: str, values: dict, user: dict) -> None:
        minutes = values["session_minutes"] or 60
        self.mentors[email] = {"row": row, "price_minor": values["price_minor"], "currency": values["currency"],
                               "session_minutes": minutes}
        self.plan.mentors.append({
            "row": row, "email": email, "headline": values["headline"], "bio": values["bio"] or "",
            "topics": values["topics"], "price_minor": values["price_minor"], "currency": values["currency"],
            "years_experience": values["years_experience"] or 0, "languages": values["languages"] or [],
            "session_minutes": minutes, "windows": values["availability"], "past_roles": values["past_roles"] or [],
            "status": values["status"] or "approved", "timezone": user["timezone"], "created_at": values["created_at"],
        })

    def _mentor_facts(self, row: SourceRow, email: str | None) -> dict | None:
        if email is None:
            return None
        if self._dependency(row, "mentor_email", email, self.bad_mentors, f"mentor {email}"):
            return None
        facts = self.mentors.get(email)
        if facts is None:
            if self._dependency(row, "mentor_email", email, self.bad_users, f"user {email}"):
                return None
            user = self._existing_user(email)
            profile = db.session.get(MentorProfile, user.id) if user is not None else None
            if profile is None:
                row.problem("mentor_email", "unknown mentor: no mentor profile with this e-mail (add it to mentors.csv)")
                return None
            facts = self.mentors[email] = {"user_id": profile.user_id, "price_minor": profile.price_minor,
                                           "currency": profile.currency, "session_minutes": profile.session_minutes}
        return facts

    # -- bookings ----------------------------------------------------------------------------

    def bookings_file(self, rows: list[SourceRow]) -> None:
        imported = self._imported_bookings()
        seen: dict[str, int] = {}
        candidates = []
        now = clock.now()
        for row in rows:
            external_id = self._unique(row, "external_id", _text(200), seen)
            values = _values(row, "bookings", {
                "learner_email": normalise_email, "mentor_email": normalise_email, "starts_at": as_datetime,
                "ends_at": as_datetime, "status": _one_of(schema.BOOKING_STATUSES), "topic": self._known_topic,
                "price_minor": NOT_NEGATIVE, "currency": money.check_currency, "requested_at": _past,
                "responded_at": _past, "outcome_at": _past, "note": _text(2000), "status_reason": _text(2000),
            })
            if external_id and external_id in imported and not row.bad:
                self.plan.count_existing("bookings")
                self.bookings[external_id] = {"booking_id": imported[external_id], "existing": True}
                continue
            learner = self._user_facts(row, "learner_email", values["learner_email"], "learner")
            mentor = self._mentor_facts(row, values["mentor_email"])
            if values["learner_email"] and values["learner_email"] == values["mentor_email"]:
                row.problem("mentor_email", "the mentor and the learner are the same person")
            if mentor is not None and values["starts_at"] is not None:
                _booking_times(row, values, mentor["session_minutes"], now)
            if row.bad or learner is None or mentor is None:
                if external_id:
                    self.bad_bookings[external_id] = row
                self._reject(row)
                continue
            candidates.append({
                **values, "row": row, "external_id": external_id, "learner": learner, "mentor": mentor,
                "price_minor": mentor["price_minor"] if values["price_minor"] is None else values["price_minor"],
                "currency": values["currency"] or mentor["currency"], "note": values["note"] or "",
            })
        for booking in self._without_overlaps(candidates):
            self.bookings[booking["external_id"]] = booking
            self.plan.bookings.append(booking)

    def _known_topic(self, value) -> str:
        """A booking's topic: a slug of the database or of the topics file (not one of its bad rows)."""
        slug = _slug(value)
        if slug in self.topic_slugs:
            return slug
        source = self.bad_topics.get(slug)
        if source is not None:
            raise ValueError(f"topic {slug} is not imported: {source.file} row {source.number} is bad")
        raise ValueError(f"unknown topic {slug!r}")

    def _without_overlaps(self, candidates: list[dict]) -> list[dict]:
        """The candidates whose sessions (completed or no-show) overlap no other of the same mentor or learner,
        in the database or earlier in the file; the others are bad rows."""
        holding = [c for c in candidates if c["status"] in schema.TIME_HOLDING_STATUSES]
        stored = self._stored_sessions(holding)
        kept_by_person: dict[tuple[str, str], list[dict]] = {}
        kept = []
        for candidate in candidates:
            row = candidate["row"]
            if candidate["status"] in schema.TIME_HOLDING_STATUSES:
                clash = None
                for side in ("mentor", "learner"):
                    key = (side, candidate[f"{side}_email"])
                    for other in kept_by_person.get(key, []):
                        if other["starts_at"] < candidate["ends_at"] and candidate["starts_at"] < other["ends_at"]:
                            clash = f"overlaps the {side}'s booking {other['external_id']} (row {other['row'].number})"
                            break
                    for booking_id, starts, ends in stored.get(key, []) if clash is None else []:
                        if starts < candidate["ends_at"] and candidate["starts_at"] < ends:
                            clash = f"overlaps the {side}'s booking #{booking_id} already in the database"
                            break
                    if clash:
                        break
                if clash:
                    row.problem("starts_at", clash)
                    self.bad_bookings[candidate["external_id"]] = row
                    self._reject(row)
                    continue
                for side in ("mentor", "learner"):
                    kept_by_person.setdefault((side, candidate[f"{side}_email"]), []).append(candidate)
            kept.append(candidate)
        return kept

    def _stored_sessions(self, holding: list[dict]) -> dict[tuple[str, str], list[tuple]]:
        """Bookings in the database that hold the time of the mentors and learners of these rows."""
        ids = {}
        for candidate in holding:
            for side in ("mentor", "learner"):
                user_id = candidate[side].get("user_id")
                if user_id is not None:
                    ids[(side, user_id)] = candidate[f"{side}_email"]
        if not ids:
            return {}
        first = min(c["starts_at"] for c in holding)
        last = max(c["ends_at"] for c in holding)
        statuses = [BookingStatus(s) for s in schema.TIME_HOLDING_STATUSES] + [BookingStatus.REQUESTED,
                                                                            BookingStatus.ACCEPTED]
        mentor_ids = [i for side, i in ids if side == "mentor"]
        learner_ids = [i for side, i in ids if side == "learner"]
        found: dict[tuple[str, str], list[tuple]] = {}
        rows = db.session.execute(sa.select(Booking.id, Booking.mentor_id, Booking.learner_id, Booking.starts_at,
                                            Booking.ends_at).where(
            Booking.status.in_(statuses), Booking.starts_at < last, Booking.ends_at > first,
            sa.or_(Booking.mentor_id.in_(mentor_ids or [-1]), Booking.learner_id.in_(learner_ids or [-1]))))
        for booking_id, mentor_id, learner_id, starts, ends in rows:
            for side, user_id in (("mentor", mentor_id), ("learner", learner_id)):
                email = ids.get((side, user_id))
                if email is not None:
                    found.setdefault((side, email), []).append((booking_id, starts, ends))
        return found

    def _booking_facts(self, row: SourceRow, external_id: str | None) -> dict | None:
        """The booking a payment or review refers to: planned in this run, or imported before."""
        if external_id is None:
            return None
        if self._dependency(row, "booking_external_id", external_id, self.bad_bookings, f"booking {external_id}"):
            return None
        facts = self.bookings.get(external_id)
        if facts is None:
            booking_id = self._imported_bookings().get(external_id)
            if booking_id is None:
                row.problem("booking_external_id", "no booking with this external id (in bookings.csv or imported "
                                                   "before)")
                return None
            facts = self.bookings[external_id] = {"booking_id": booking_id, "existing": True}
        if facts.get("existing") and "status" not in facts:
            booking = db.session.get(Booking, facts["booking_id"])
            facts.update(status=booking.status.value, ends_at=booking.ends_at, requested_at=booking.created_at,
                         outcome_at=booking.updated_at, currency=booking.currency)
        return facts

    def _imported_bookings(self) -> dict[str, int]:
        cached = getattr(self, "_imported_booking_ids", None)
        if cached is None:
            cached = self._imported_booking_ids = imported_ids(EventType.BOOKING_REQUEST)
        return cached

    # -- payments ----------------------------------------------------------------------------

    def payments_file(self, rows: list[SourceRow]) -> None:
        seen: dict[str, int] = {}
        existing = set(db.session.scalars(sa.select(Payment.provider_ref).where(Payment.provider_ref.is_not(None))))
        for row in rows:
            external_id = self._unique(row, "external_id", _text(200), seen)
            booking_ref = _check(row, "booking_external_id", _text(200), required=True)
            amount = _check(row, "amount_minor", as_integer, required=True)
            if amount is not None and not 0 <= amount <= 10 ** 12:
                row.problem("amount_minor", "must not be negative")
            currency = _check(row, "currency", money.check_currency, required=True)
            status = _check(row, "status", _one_of(schema.PAYMENT_STATUSES), required=True)
            refunded = _check(row, "refunded_minor", as_integer)
            gateway = _check(row, "gateway", _one_of(schema.PAYMENT_GATEWAYS)) or "sandbox"
            paid_at = _check(row, "paid_at", _past)
            refunded_at = _check(row, "refunded_at", _past)
            fee = _check(row, "platform_fee_minor", NOT_NEGATIVE)
            if external_id and external_id in existing and not row.bad:
                self.plan.count_existing("payments")
                continue
            if amount is not None and status:
                refunded = _refunded(row, status, amount, refunded)
            booking = self._booking_facts(row, booking_ref)
            if row.bad or booking is None:
                self._reject(row)
                continue
            self.plan.payments.append({
                "row": row, "external_id": external_id, "booking": booking, "amount_minor": amount,
                "currency": currency, "status": status, "refunded_minor": refunded or 0, "gateway": gateway,
                "paid_at": paid_at or booking["requested_at"], "refunded_at": refunded_at or booking["outcome_at"],
                "platform_fee_minor": fee,
            })

    # -- reviews -----------------------------------------------------------------------------

    def reviews_file(self, rows: list[SourceRow]) -> None:
        seen: dict[str, int] = {}
        seen_bookings: dict[str, int] = {}
        imported = imported_ids(EventType.RATING)
        for row in rows:
            external_id = self._unique(row, "external_id", _text(200), seen)
            booking_ref = self._unique(row, "booking_external_id", _text(200), seen_bookings)
            rating = _check(row, "rating", reviews._check_rating, required=True)
            text = _check(row, "text", reviews._check_text) or ""
            created_at = _check(row, "created_at", _past)
            if external_id and external_id in imported and not row.bad:
                self.plan.count_existing("reviews")
                continue
            booking = self._booking_facts(row, booking_ref)
            if booking is not None:
                if booking["status"] != "completed":
                    row.problem("booking_external_id", f"booking {booking_ref} did not happen (it is "
                                                       f"{booking['status'].replace('_', ' ')}); only completed "
                                                       f"sessions are reviewed")
                elif created_at is not None and created_at < booking["ends_at"]:
                    row.problem("created_at", "is before the session ended")
            if row.bad or booking is None:
                self._reject(row)
                continue
            if booking.get("existing") and db.session.scalar(
                    sa.select(Review.id).where(Review.booking_id == booking["booking_id"])) is not None:
                self.plan.count_existing("reviews")  # reviewed already (in the app, or imported under another id)
                continue
            self.plan.reviews.append({"row": row, "external_id": external_id, "booking": booking, "rating": rating,
                                      "text": text, "created_at": created_at or booking["outcome_at"]})


def _slug(value) -> str:
    text = as_text(value).lower()
    if not SLUG.match(text):
        raise ValueError("a topic slug is lower-case letters, digits and dashes, e.g. data-science")
    return text


def _roles(value) -> list[str]:
    roles = [r.lower() for r in as_list(value)]
    if not roles:
        raise ValueError("give learner, mentor or both (learner;mentor)")
    unknown = [r for r in roles if r not in schema.IMPORTED_ROLES]
    if unknown:
        raise ValueError(f"unknown role(s) {', '.join(unknown)}: give learner, mentor or both (learner;mentor); "
                         "admins are made in the admin panel")
    return list(dict.fromkeys(roles))


def _booking_times(row: SourceRow, values: dict, session_minutes: int, now: datetime) -> None:
    """A booking's end and its request, answer and outcome times, from the ones given and the status; a time
    out of order is a problem of the row."""
    starts_at, status = values["starts_at"], values["status"]
    ends_at = values["ends_at"] = values["ends_at"] or starts_at + timedelta(minutes=session_minutes)
    minutes = (ends_at - starts_at).total_seconds() / 60
    if not SESSION_LIMITS[0] <= minutes <= SESSION_LIMITS[1]:
        row.problem("ends_at", f"a session lasts {SESSION_LIMITS[0]} to {SESSION_LIMITS[1]} minutes "
                               f"(this one {minutes:g})")
    elif status in schema.TIME_HOLDING_STATUSES and ends_at > now:
        row.problem("status", f"a {status} session must have ended (it ends {ends_at.isoformat()})")
    requested_at = values["requested_at"] = values["requested_at"] or min(starts_at, now)
    if requested_at > starts_at:
        row.problem("requested_at", "must not be after starts_at")
    responded_at, outcome_at = values["responded_at"], values["outcome_at"]
    if status in ("completed", "no_show"):
        responded_at = responded_at or requested_at
        outcome_at = outcome_at or min(ends_at, now)
    elif status == "rejected":
        outcome_at = outcome_at or responded_at or requested_at
        responded_at = outcome_at
    else:
        outcome_at = outcome_at or requested_at
    if responded_at and responded_at < requested_at:
        row.problem("responded_at", "must not be before requested_at")
    if outcome_at < requested_at:
        row.problem("outcome_at", "must not be before requested_at")
    values.update(responded_at=responded_at, outcome_at=outcome_at)


def _refunded(row: SourceRow, status: str, amount: int, refunded: int | None) -> int | None:
    """The refunded amount the status implies, checked against the one given."""
    if status == "refunded":
        refunded = amount if refunded is None else refunded
        if refunded != amount or amount == 0:
            row.problem("refunded_minor", "a refunded payment was refunded in full (refunded_minor = amount_minor > 0)")
    elif status == "partially_refunded":
        if refunded is None or not 0 < refunded < amount:
            row.problem("refunded_minor", "a partially refunded payment needs 0 < refunded_minor < amount_minor")
    elif refunded:
        row.problem("refunded_minor", f"a {status} payment has nothing refunded")
    return refunded


def imported_ids(event_type: EventType) -> dict[str, int]:
    """external id -> booking id of the rows earlier imports wrote, from their events (which are never deleted)."""
    source = Event.payload["source"].as_string()
    external = Event.payload["external_id"].as_string()
    return {ext: booking_id for ext, booking_id in db.session.execute(
        sa.select(external, Event.booking_id).where(Event.event_type == event_type, source == IMPORT_SOURCE))
        if ext is not None}
