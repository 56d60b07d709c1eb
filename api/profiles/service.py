"""Learner and mentor profiles: validation, saving, visibility, and the events the ML pipeline reads.

A function that writes is one transaction: it commits at its end, or rolls back and raises FieldError (a field and
its message) or UploadError."""
from __future__ import annotations

import re
from datetime import date, time
from decimal import Decimal, InvalidOperation

from flask import g, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from models import clock
from api.activity import log_event
from api.auth import throttle
from api.auth.accounts import FieldError, confirm_current_password, request_email_change, send_phone_code
from api.auth.validation import check_full_name, check_time_zone, normalise_email, normalise_phone
from api.extensions import db
from api import money
from api.profiles import uploads
from api.search.filters import LANGUAGE_NAMES
from api.tables import (
    AvailabilityException,
    AvailabilityRule,
    Certification,
    EventType,
    LearnerProfile,
    MentorProfile,
    MentorStatus,
    Role,
    Topic,
    Upload,
    User,
    UserRole,
)

# the currencies a person may choose and a mentor may price in: money.supported_currencies() (the rate table)
MAX_PRICE_MAJOR = 10_000
SESSION_LENGTHS = (30, 45, 60, 90, 120)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MAX_WINDOWS = 28
LANGUAGES = LANGUAGE_NAMES  # ISO 639-1 code -> name: the languages the search filter offers
MAX_LANGUAGES = 10
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _check(field: str, check, value):
    try:
        return check(value)
    except ValueError as error:
        raise FieldError(field, str(error)) from None


# --- parsing what people send -------------------------------------------------------------------

def parse_time(value, field: str) -> time:
    if isinstance(value, time):
        return value.replace(second=0, microsecond=0)
    text = str(value or "").strip()[:5]
    if not _TIME.match(text):
        raise FieldError(field, "Use 24-hour times such as 09:00 or 17:30.")
    return time(int(text[:2]), int(text[3:5]))


def parse_windows(raw: list, field: str) -> list[tuple[int, time, time]]:
    """[{weekday, start, end}] -> sorted, non-overlapping (weekday, start, end) windows."""
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_WINDOWS:
        raise FieldError(field, f"Give at most {MAX_WINDOWS} weekly time windows.")
    windows = []
    for item in raw:
        if not isinstance(item, dict):
            raise FieldError(field, "Each window needs a weekday, a start and an end.")
        try:
            weekday = int(item.get("weekday"))
        except (TypeError, ValueError):
            raise FieldError(field, "The weekday must be 0 (Monday) to 6 (Sunday).") from None
        if not 0 <= weekday <= 6:
            raise FieldError(field, "The weekday must be 0 (Monday) to 6 (Sunday).")
        start, end = parse_time(item.get("start"), field), parse_time(item.get("end"), field)
        if start >= end:
            raise FieldError(field, f"On {WEEKDAYS[weekday]} the window must end after it starts.")
        windows.append((weekday, start, end))
    windows.sort()
    for (d1, _s1, e1), (d2, s2, _e2) in zip(windows, windows[1:]):
        if d1 == d2 and s2 < e1:
            raise FieldError(field, f"The windows on {WEEKDAYS[d1]} overlap.")
    return windows


def windows_json(windows) -> list[dict]:
    return [{"weekday": d, "start": s.strftime("%H:%M"), "end": e.strftime("%H:%M")} for d, s, e in windows]


def parse_price(value, currency: str) -> int:
    """A price in major units ("45", "45.50") -> integer minor units of the currency."""
    digits = money.exponent(currency)
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        raise FieldError("price", "Enter the price as a number, e.g. 45 or 45.50.") from None
    if not amount.is_finite() or amount <= 0 or amount > MAX_PRICE_MAJOR:
        raise FieldError("price", f"The price must be more than 0 and at most {MAX_PRICE_MAJOR:,}.")
    minor = amount * (10 ** digits)
    if minor != minor.to_integral_value():
        raise FieldError("price", f"{currency} prices have at most {digits} decimal places.")
    return int(minor)


def format_price(price_minor: int, currency: str) -> str:
    """The one money format (money.format_money), e.g. "£40.00"."""
    return money.format_money(price_minor, currency)


def price_text(price_minor: int, currency: str) -> str:
    """A price as typed in the form: "45" or "45.50"."""
    digits = money.exponent(currency)
    return f"{price_minor / 10 ** digits:.{digits}f}"


def check_currency(value: str) -> str:
    """A supported currency code; FieldError naming `currency` otherwise."""
    return _check("currency", money.check_currency, value)


def update_currency(user: User, data: dict, changed: list[str]) -> None:
    """The person's currency: prices are shown and charged in it, earnings shown in it."""
    if "currency" in data and data["currency"] is not None:
        currency = check_currency(data["currency"])
        if currency != user.currency:
            user.currency = currency
            changed.append("currency")


def topics_by_ids(ids) -> list[Topic]:
    ids = {int(i) for i in ids or []}
    topics = list(db.session.scalars(select(Topic).where(Topic.id.in_(ids)))) if ids else []
    if len(topics) != len(ids):
        raise FieldError("topic_ids", "One of the chosen topics does not exist.")
    return sorted(topics, key=lambda t: t.name)


def all_topics() -> list[Topic]:
    return list(db.session.scalars(select(Topic).order_by(Topic.category, Topic.name)))


# --- contact details shared by both profiles ----------------------------------------------------

def update_contact(user: User, data: dict, changed: list[str]) -> str | None:
    """Name, e-mail, phone and time zone. A new phone must be verified again (its code is counted per account,
    before anything changes); a new e-mail needs the current password and takes effect only once the link
    mailed to it is opened (the old address is told at once). Returns the new e-mail address asked for, to be
    mailed after the commit (`_after_contact_change`)."""
    new_email = None
    if data.get("email"):
        email = _check("email", normalise_email, data["email"])
        if email != user.email:
            confirm_password(user, data.get("current_password"))
            new_email = email
    new_phone = None
    if data.get("phone"):
        phone = _check("phone", normalise_phone, data["phone"])
        if phone != user.phone:
            new_phone = phone
    if new_phone is not None:
        throttle.count_sms(user.id)  # LimitReached (429) before anything changes
    if new_email is not None:
        throttle.count_email(user.id)
    if "full_name" in data:
        name = _check("full_name", check_full_name, data["full_name"])
        if name != user.full_name:
            user.full_name = name
            changed.append("full_name")
    if "timezone" in data and data["timezone"] is not None:
        zone = _check("timezone", check_time_zone, data["timezone"])
        if zone != user.timezone:
            user.timezone = zone
            changed.append("timezone")
    if new_phone is not None:
        user.phone = new_phone
        user.phone_verified_at = None
        changed.append("phone")
    return new_email


def confirm_password(user: User, password: str | None) -> None:
    """The current password, for a change of the e-mail address (which could take the account over)."""
    if not user.password_hash:
        raise FieldError("current_password", "Set a password first (use “Forgot password”), then change the address.")
    confirm_current_password(user, password, "Enter your current password to change the e-mail address.")


def _after_contact_change(user: User, changed: list[str], new_email: str | None) -> None:
    """After the commit: the link to a new e-mail address, the code to a new phone number."""
    if new_email is not None:
        request_email_change(user, new_email)
        g.email_change_sent_to = new_email  # the web pages say so
    if "phone" in changed:
        send_phone_code(user, counted=True)


# --- learner profile ----------------------------------------------------------------------------

def learner_profile(user: User, *, create: bool = False) -> LearnerProfile | None:
    profile = db.session.get(LearnerProfile, user.id)
    if profile is None and create:
        profile = LearnerProfile(user_id=user.id, interests="", preferred_slots=[])
        db.session.add(profile)
    return profile


def update_learner_profile(user: User, data: dict) -> LearnerProfile:
    """Save the learner's profile (only the keys present in `data`) and log the change for the ML pipeline.

    One transaction: on a FieldError (or any other failure) nothing is saved."""
    changed: list[str] = []
    try:
        new_email = update_contact(user, data, changed)
        update_currency(user, data, changed)
        profile = learner_profile(user, create=True)
        _apply_learner_fields(profile, data, changed)
        if changed:
            log_event(EventType.PROFILE_UPDATE, user_id=user.id, role="learner", changed=sorted(changed),
                      topics=[t.slug for t in profile.topics], interests=profile.interests,
                      preferred_slots=profile.preferred_slots, timezone=user.timezone, currency=user.currency)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    _after_contact_change(user, changed, new_email)
    return profile


def _apply_learner_fields(profile: LearnerProfile, data: dict, changed: list[str]) -> None:
    """Topics, interests and preferred weekly slots, each only when sent."""
    if "topic_ids" in data:
        topics = topics_by_ids(data["topic_ids"])
        if {t.id for t in topics} != {t.id for t in profile.topics}:
            profile.topics = topics
            changed.append("topics")
    if "interests" in data:
        interests = (data["interests"] or "").strip()
        if len(interests) > 2000:
            raise FieldError("interests", "Use at most 2000 characters for your interests.")
        _set(profile, "interests", interests, changed, current=profile.interests or "")
    if "preferred_slots" in data:
        slots = windows_json(parse_windows(data["preferred_slots"], "preferred_slots"))
        _set(profile, "preferred_slots", slots, changed, current=profile.preferred_slots or [])


def learner_json(user: User) -> dict:
    profile = learner_profile(user)
    return {
        "user_id": user.id, "full_name": user.full_name, "email": user.email, "phone": user.phone,
        "timezone": user.timezone, "currency": user.currency,
        "topics": [topic_json(t) for t in (profile.topics if profile else [])],
        "interests": profile.interests if profile else "",
        "preferred_slots": profile.preferred_slots if profile else [],
        "picture_url": media_url(profile.picture_path) if profile else None,
    }


def topic_json(topic: Topic) -> dict:
    return {"id": topic.id, "slug": topic.slug, "name": topic.name, "category": topic.category}


def media_url(stored_name: str | None) -> str | None:
    return url_for("profiles.media", name=stored_name) if stored_name else None


# --- mentor profile -----------------------------------------------------------------------------

def mentor_profile(user_or_id) -> MentorProfile | None:
    user_id = user_or_id if isinstance(user_or_id, int) else user_or_id.id
    return db.session.get(MentorProfile, user_id)


def grant_role(user: User, role: Role) -> None:
    if not user.has_role(role):
        user.roles.append(UserRole(role=role))


REQUIRED_MENTOR_FIELDS = ("headline", "topic_ids", "price_minor", "currency", "availability")


def check_languages(codes) -> list[str]:
    """The languages a mentor speaks: known ISO 639-1 codes, in the order given, each once."""
    if not isinstance(codes, (list, tuple)) or not all(isinstance(c, str) for c in codes):
        raise FieldError("languages", "Choose the languages you speak from the list.")
    chosen = list(dict.fromkeys(c.strip().lower() for c in codes if c.strip()))
    unknown = [c for c in chosen if c not in LANGUAGES]
    if unknown:
        raise FieldError("languages", f"Choose the languages you speak from the list ({', '.join(unknown)} is not on it).")
    if len(chosen) > MAX_LANGUAGES:
        raise FieldError("languages", f"Choose at most {MAX_LANGUAGES} languages.")
    return chosen


def save_mentor_profile(user: User, data: dict) -> MentorProfile:
    """Create or update the mentor profile (only the keys present in `data`). A new or rejected profile
    (re)enters the approval queue. One transaction: on a FieldError nothing is saved."""
    changed: list[str] = []
    try:
        new_email = update_contact(user, data, changed)
        profile = mentor_profile(user)
        creating = profile is None
        if creating:
            profile = _new_mentor_profile(user, data)
        _apply_mentor_details(profile, user, data, changed)
        _apply_mentor_topics(profile, data, changed)
        _apply_availability(profile, user, data, changed)
        if data.get("accepts_questions") is not None:
            _set(profile, "accepts_questions", bool(data["accepts_questions"]), changed)
        resubmitted = _resubmit_if_rejected(profile)
        grant_role(user, Role.MENTOR)
        if changed or creating or resubmitted:
            log_event(EventType.PROFILE_UPDATE, user_id=user.id, mentor_id=user.id, role="mentor",
                      changed=sorted(set(changed)), created=creating, resubmitted=resubmitted,
                      topics=[t.slug for t in profile.topics], price_minor=profile.price_minor,
                      currency=profile.currency, years_experience=profile.years_experience,
                      session_minutes=profile.session_minutes, timezone=profile.timezone,
                      status=profile.status.value)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    _after_contact_change(user, changed, new_email)
    return profile


_MISSING_MESSAGES = {
    "headline": "Write a one-line headline, e.g. “Senior data scientist, 8 years in fintech”.",
    "topic_ids": "Choose at least one topic you teach.",
    "price_minor": "Set a price per session.",
    "currency": "Choose the currency of your price.",
    "availability": "Give at least one weekly time window when learners can book you.",
}


def _new_mentor_profile(user: User, data: dict) -> MentorProfile:
    """A pending profile, once every required field is given (FieldError naming the first one missing)."""
    missing = [f for f in REQUIRED_MENTOR_FIELDS if data.get(f) in (None, "", [])]
    if missing:
        raise FieldError(missing[0], _MISSING_MESSAGES[missing[0]])
    profile = MentorProfile(user_id=user.id, price_minor=0, currency=user.currency or "USD",
                            status=MentorStatus.PENDING, past_roles=[], languages=[])
    db.session.add(profile)
    return profile


def _apply_mentor_details(profile: MentorProfile, user: User, data: dict, changed: list[str]) -> None:
    """The fields of one value each, checked in the order of the form."""
    if "headline" in data:
        _set(profile, "headline", check_headline(data["headline"]), changed)
    if "bio" in data:
        _set(profile, "bio", check_bio(data["bio"]), changed)
    if "currency" in data:  # a mentor's one currency: their price's, and what they see and are paid in
        _set(profile, "currency", check_currency(data["currency"]), changed)
        update_currency(user, data, [])
    if "price_minor" in data:
        _set(profile, "price_minor", check_price_minor(data["price_minor"], profile.currency), changed)
    if data.get("session_minutes") is not None:
        _set(profile, "session_minutes", check_session_minutes(data["session_minutes"]), changed)
    if data.get("years_experience") is not None:
        _set(profile, "years_experience", check_years_experience(data["years_experience"]), changed)
    if "past_roles" in data:
        _set(profile, "past_roles", check_past_roles(data["past_roles"]), changed)
    if data.get("languages") is not None:
        _set(profile, "languages", check_languages(data["languages"]), changed)
    if "video_url" in data:
        _set(profile, "video_url", check_video_url(data["video_url"]), changed)


def check_headline(value) -> str:
    headline = " ".join((value or "").split())
    if not headline:
        raise FieldError("headline", _MISSING_MESSAGES["headline"])
    if len(headline) > 200:
        raise FieldError("headline", "Use at most 200 characters for the headline.")
    return headline


def check_bio(value) -> str:
    bio = (value or "").strip()
    if len(bio) > 5000:
        raise FieldError("bio", "Use at most 5000 characters for the introduction.")
    return bio


def check_price_minor(price, currency: str) -> int:
    if not isinstance(price, int) or isinstance(price, bool) or price <= 0 \
            or price > MAX_PRICE_MAJOR * 10 ** money.exponent(currency):
        raise FieldError("price_minor", "The price must be a whole number of minor units (cents), more than 0.")
    return price


def check_session_minutes(minutes) -> int:
    if minutes not in SESSION_LENGTHS:
        raise FieldError("session_minutes", "Choose a session length of " +
                         ", ".join(map(str, SESSION_LENGTHS)) + " minutes.")
    return minutes


def check_years_experience(years) -> int:
    if not isinstance(years, int) or not 0 <= years <= 70:
        raise FieldError("years_experience", "Enter the years of experience as a number from 0 to 70.")
    return years


def check_past_roles(values) -> list[str]:
    roles = [" ".join(str(r).split()) for r in (values or []) if str(r).strip()]
    if len(roles) > 20 or any(len(r) > 200 for r in roles):
        raise FieldError("past_roles", "List at most 20 past roles of up to 200 characters each.")
    return roles


def check_video_url(value) -> str | None:
    url = (value or "").strip() or None
    if url and (not re.match(r"^https://[^\s/$.?#].[^\s]*$", url) or len(url) > 500):
        raise FieldError("video_url", "Give the video link as a full https:// address (YouTube, Vimeo...).")
    return url


def _apply_mentor_topics(profile: MentorProfile, data: dict, changed: list[str]) -> None:
    if "topic_ids" not in data:
        return
    topics = topics_by_ids(data["topic_ids"])
    if not topics:
        raise FieldError("topic_ids", _MISSING_MESSAGES["topic_ids"])
    if {t.id for t in topics} != {t.id for t in profile.topics}:
        profile.topics = topics
        changed.append("topics")


def _apply_availability(profile: MentorProfile, user: User, data: dict, changed: list[str]) -> None:
    """The weekly windows, in the mentor's own (current) time zone."""
    _set(profile, "timezone", user.timezone, changed)
    for rule in profile.availability:
        rule.timezone = user.timezone
    if "availability" not in data:
        return
    windows = parse_windows(data["availability"], "availability")
    if not windows:
        raise FieldError("availability", _MISSING_MESSAGES["availability"])
    if windows != sorted((r.weekday, r.start_time, r.end_time) for r in profile.availability):
        profile.availability = [AvailabilityRule(weekday=d, start_time=s, end_time=e, timezone=user.timezone)
                                for d, s, e in windows]
        changed.append("availability")


def _resubmit_if_rejected(profile: MentorProfile) -> bool:
    """A rejected profile that is saved again goes back to the approval queue; True when it did."""
    if profile.status != MentorStatus.REJECTED:
        return False
    profile.status = MentorStatus.PENDING
    profile.status_reason = None
    profile.reviewed_at = None
    return True


_UNSET = object()


def _set(profile, name: str, value, changed: list[str], current=_UNSET) -> None:
    """Set the attribute and note its name in `changed` when the value differs (from `current` when given)."""
    if (getattr(profile, name) if current is _UNSET else current) != value:
        setattr(profile, name, value)
        changed.append(name)


# --- uploads and dated changes of a profile -----------------------------------------------------

def picture_profile(user: User, target: str) -> LearnerProfile | MentorProfile | None:
    """The profile a picture is for: the mentor profile (None before there is one) or the learner profile."""
    return mentor_profile(user) if target == "mentor" else learner_profile(user, create=True)


def set_picture(user: User, profile: LearnerProfile | MentorProfile, target: str, file: FileStorage | None) -> Upload:
    """Replace the picture of the learner or mentor (`target`) profile; UploadError when the file is refused."""
    try:
        upload = uploads.save_picture(user.id, file)
        old, profile.picture_path = profile.picture_path, upload.stored_name
        log_event(EventType.PROFILE_UPDATE, user_id=user.id, mentor_id=user.id if target == "mentor" else None,
                  role=target, changed=["picture"])
        uploads.delete_upload(old)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return upload


def set_video(profile: MentorProfile, file: FileStorage | None) -> Upload:
    """Replace the mentor's uploaded introduction video; UploadError when the file is refused."""
    try:
        upload = uploads.save_video(profile.user_id, file)
        old, profile.video_path = profile.video_path, upload.stored_name
        uploads.delete_upload(old)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return upload


def remove_video(profile: MentorProfile) -> None:
    uploads.delete_upload(profile.video_path)
    profile.video_path = None
    db.session.commit()


def add_certification(profile: MentorProfile, data: dict, document: FileStorage | None) -> Certification:
    """A certification (name, issuer, year) with its optional document; FieldError or UploadError otherwise."""
    try:
        stored = None
        if document is not None:
            stored = uploads.save_document(profile.user_id, document).stored_name
        name, issuer, year = _certification_fields(data)
        cert = Certification(mentor_id=profile.user_id, name=name, issuer=issuer, year=year, document_path=stored)
        db.session.add(cert)
        log_event(EventType.PROFILE_UPDATE, user_id=profile.user_id, mentor_id=profile.user_id, role="mentor",
                  changed=["certifications"], certification=name)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return cert


def _certification_fields(data: dict) -> tuple[str, str, int | None]:
    name = " ".join((data.get("name") or "").split())
    if not name or len(name) > 200:
        raise FieldError("name", "Give the certification's name (up to 200 characters).")
    issuer = " ".join((data.get("issuer") or "").split())[:200]
    year = data.get("year")
    if year in (None, ""):
        return name, issuer, None
    try:
        year = int(year)
    except (TypeError, ValueError):
        raise FieldError("year", "Enter the year as four digits, e.g. 2021.") from None
    if not 1950 <= year <= clock.today().year:
        raise FieldError("year", f"Enter a year between 1950 and {clock.today().year}.")
    return name, issuer, year


def own_certification(user_id: int, cert_id: int) -> Certification | None:
    """The certification when it is this mentor's, else None."""
    cert = db.session.get(Certification, cert_id)
    return cert if cert is not None and cert.mentor_id == user_id else None


def delete_certification(cert: Certification) -> None:
    uploads.delete_upload(cert.document_path)
    db.session.delete(cert)
    db.session.commit()


def add_exception(profile: MentorProfile, data: dict) -> AvailabilityException:
    """A date when the weekly hours do not apply: a day off (no times) or other hours; FieldError otherwise."""
    try:
        on_date, start, end = _exception_times(data)
        note = " ".join((data.get("note") or "").split())[:200]
        exists = db.session.scalar(select(AvailabilityException.id).where(
            AvailabilityException.mentor_id == profile.user_id, AvailabilityException.on_date == on_date,
            AvailabilityException.start_time.is_(None) if start is None
            else AvailabilityException.start_time == start))
        if exists:
            raise FieldError("on_date", "There is already an exception starting then on that date.")
        exception = AvailabilityException(mentor_id=profile.user_id, on_date=on_date, start_time=start,
                                          end_time=end, note=note)
        db.session.add(exception)
        log_event(EventType.PROFILE_UPDATE, user_id=profile.user_id, mentor_id=profile.user_id, role="mentor",
                  changed=["availability_exceptions"])
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return exception


def _exception_times(data: dict) -> tuple[date, time | None, time | None]:
    raw_date = data.get("on_date")
    try:
        on_date = raw_date if isinstance(raw_date, date) else date.fromisoformat(str(raw_date or ""))
    except ValueError:
        raise FieldError("on_date", "Enter the date as YYYY-MM-DD.") from None
    if on_date < clock.today():
        raise FieldError("on_date", "The date must be today or later.")
    start = data.get("start_time") or None
    end = data.get("end_time") or None
    if (start is None) != (end is None):
        raise FieldError("end_time", "Give both start and end times, or neither for a day off.")
    if start is not None:
        start, end = parse_time(start, "start_time"), parse_time(end, "end_time")
        if start >= end:
            raise FieldError("end_time", "The end must be after the start.")
    return on_date, start, end


def own_exception(user_id: int, exception_id: int) -> AvailabilityException | None:
    """The availability exception when it is this mentor's, else None."""
    exception = db.session.get(AvailabilityException, exception_id)
    return exception if exception is not None and exception.mentor_id == user_id else None


def delete_exception(exception: AvailabilityException) -> None:
    db.session.delete(exception)
    db.session.commit()


def exceptions_of(profile: MentorProfile) -> list[AvailabilityException]:
    return list(db.session.scalars(select(AvailabilityException).where(
        AvailabilityException.mentor_id == profile.user_id).order_by(AvailabilityException.on_date)))


def mentor_json(profile: MentorProfile, *, private: bool, viewer=None) -> dict:
    """The profile as JSON; `price` and `display_price` are in the viewer's currency (the signed-in user's by
    default), exactly what they would be charged; `price_minor` and `currency` are the mentor's own price."""
    user = db.session.get(User, profile.user_id)
    shown, shown_currency = money.price_in(profile.price_minor, profile.currency,
                                           money.viewer_currency(current_user if viewer is None else viewer))
    body = {
        "user_id": profile.user_id, "full_name": user.full_name, "headline": profile.headline, "bio": profile.bio,
        "topics": [topic_json(t) for t in profile.topics], "price_minor": profile.price_minor,
        "currency": profile.currency, "price": format_price(shown, shown_currency),
        "display_price": {"amount_minor": shown, "currency": shown_currency},
        "session_minutes": profile.session_minutes, "timezone": profile.timezone,
        "years_experience": profile.years_experience, "past_roles": profile.past_roles or [],
        "languages": list(profile.languages or []),
        "availability": windows_json((r.weekday, r.start_time, r.end_time) for r in profile.availability),
        "certifications": [{"id": c.id, "name": c.name, "issuer": c.issuer, "year": c.year,
                            **({"document_url": media_url(c.document_path)} if private else {})}
                           for c in profile.certifications],
        "picture_url": media_url(profile.picture_path), "video_url": profile.video_url,
        "video_upload_url": media_url(profile.video_path), "rating_average": profile.rating_average,
        "rating_count": profile.rating_count,
    }
    if private:
        body.update({
            "email": user.email, "phone": user.phone, "status": profile.status.value,
            "status_reason": profile.status_reason,
            "exceptions": [{"id": x.id, "on_date": x.on_date.isoformat(),
                            "start_time": x.start_time.strftime("%H:%M") if x.start_time else None,
                            "end_time": x.end_time.strftime("%H:%M") if x.end_time else None, "note": x.note}
                           for x in exceptions_of(profile)],
        })
    return body


def is_admin(user) -> bool:
    return bool(user and user.is_authenticated and user.has_role(Role.ADMIN))


def can_see_mentor(profile: MentorProfile | None, viewer) -> bool:
    """Approved mentors are public; a pending, rejected or suspended one only to themselves and admins."""
    if profile is None:
        return False
    if profile.status == MentorStatus.APPROVED:
        return True
    return bool(viewer and viewer.is_authenticated and (viewer.id == profile.user_id or is_admin(viewer)))


def visible_mentors_query():
    """The mentors learners may see (search and recommendations filter with this)."""
    return select(MentorProfile).where(MentorProfile.status == MentorStatus.APPROVED)

