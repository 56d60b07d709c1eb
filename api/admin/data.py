"""SQL for the admin reports: loads the rows each report needs as DataFrames (dashboards/ computes).

Every loader takes a `Filters` (date range, topic).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import pandas as pd
import sqlalchemy as sa

from api.extensions import db
from api.payments.ledger import revenue_lines
from api.tables import (
    Booking,
    BookingStatus,
    ChatRoom,
    Event,
    EventType,
    LedgerEntry,
    MentorProfile,
    MentorStatus,
    Message,
    Payment,
    Refund,
    Review,
    Topic,
    User,
    UserRole,
    learner_topics,
    mentor_topics,
)
from dashboards.revenue import LINE_COLUMNS, lines_from_payments
from models import clock

PERIODS = ("day", "week", "month")
REFUND_COUNTED = ("succeeded",)


@dataclass(frozen=True)
class Filters:
    start: date
    end: date  # inclusive
    topic: str = ""  # a topic slug, or "" for all
    period: str = "week"

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=timezone.utc)

    @property
    def until(self) -> datetime:  # exclusive
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=timezone.utc)

    def args(self) -> dict:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "topic": self.topic,
                "period": self.period}


def parse_filters(args, default_days: int, today: date | None = None) -> Filters:
    """From query arguments start, end (YYYY-MM-DD), topic and period; bad values fall back to the defaults."""
    today = today or clock.today()

    def _date(name: str, default: date) -> date:
        try:
            return date.fromisoformat(args.get(name, "") or "")
        except ValueError:
            return default

    end = _date("end", today)
    start = _date("start", end - timedelta(days=default_days - 1))
    if start > end:
        start, end = end, start
    period = args.get("period", "week")
    topic = (args.get("topic", "") or "").strip()[:64]
    return Filters(start=start, end=end, topic=topic, period=period if period in PERIODS else "week")


def topics() -> list[Topic]:
    return list(db.session.scalars(sa.select(Topic).order_by(Topic.category, Topic.name)))


def _topic_id(filters: Filters) -> int | None:
    if not filters.topic:
        return None
    found = db.session.scalar(sa.select(Topic.id).where(Topic.slug == filters.topic))
    return found if found is not None else -1  # an unknown topic matches nothing


def _frame(statement, columns: list[str]):
    rows = db.session.execute(statement).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=columns)


# --- revenue ------------------------------------------------------------------------------------

def payment_rows(filters: Filters):
    """Captured payments made in the range: at, currency, topic, captured_minor, platform_fee_minor."""
    topic_id = _topic_id(filters)
    statement = (sa.select(Payment.created_at, Payment.currency, Topic.name, Payment.captured_minor,
                           Payment.platform_fee_minor)
                 .join(Booking, Booking.id == Payment.booking_id).outerjoin(Topic, Topic.id == Booking.topic_id)
                 .where(Payment.captured_minor > 0, Payment.created_at >= filters.since,
                        Payment.created_at < filters.until))
    if topic_id is not None:
        statement = statement.where(Booking.topic_id == topic_id)
    return _frame(statement, ["at", "currency", "topic", "captured_minor", "platform_fee_minor"])


def refund_rows(filters: Filters):
    """Succeeded refunds made in the range: at, currency, topic, amount_minor."""
    topic_id = _topic_id(filters)
    statement = (sa.select(Refund.created_at, Refund.currency, Topic.name, Refund.amount_minor)
                 .join(Payment, Payment.id == Refund.payment_id).join(Booking, Booking.id == Payment.booking_id)
                 .outerjoin(Topic, Topic.id == Booking.topic_id)
                 .where(Refund.status.in_(REFUND_COUNTED), Refund.created_at >= filters.since,
                        Refund.created_at < filters.until))
    if topic_id is not None:
        statement = statement.where(Booking.topic_id == topic_id)
    return _frame(statement, ["at", "currency", "topic", "amount_minor"])


def money_lines(filters: Filters):
    """(lines, source): the revenue report's money lines (see dashboards.revenue).

    From the payments ledger (api.payments.ledger.revenue_lines) once it has entries, so that the
    report reconciles with it to the cent; before that, from the payments and refunds tables.
    """
    has_ledger = db.session.scalar(sa.select(LedgerEntry.id).limit(1)) is not None
    if has_ledger:
        lines = pd.DataFrame(revenue_lines(filters.since, filters.until), columns=LINE_COLUMNS)
        if filters.topic:
            name = db.session.scalar(sa.select(Topic.name).where(Topic.slug == filters.topic))
            lines = lines[lines["topic"] == name]
        return lines.astype({"amount_minor": "int64"}), "ledger"
    return lines_from_payments(payment_rows(filters), refund_rows(filters)), "payments"


# --- funnel, sign-ups, cohorts, chat ------------------------------------------------------------

def _search_matches_topic(payload: dict, slug: str) -> bool:
    payload = payload or {}
    filters = payload.get("filters") or {}
    topics = list(payload.get("topics") or []) + list(filters.get("topics") or [])
    for one in (payload.get("topic"), filters.get("topic")):
        if one:
            topics.append(one)
    return slug in topics


def funnel_events(filters: Filters):
    """Search and profile-view events in the range (event_type column); by topic: searches for it, views of its mentors."""
    topic_id = _topic_id(filters)
    in_range = (Event.occurred_at >= filters.since, Event.occurred_at < filters.until)
    if topic_id is None:
        counts = dict(db.session.execute(
            sa.select(Event.event_type, sa.func.count(Event.id)).where(
                Event.event_type.in_([EventType.SEARCH, EventType.PROFILE_VIEW]), *in_range)
            .group_by(Event.event_type)).all())
        searches, views = counts.get(EventType.SEARCH, 0), counts.get(EventType.PROFILE_VIEW, 0)
    else:
        payloads = db.session.scalars(sa.select(Event.payload).where(Event.event_type == EventType.SEARCH, *in_range))
        searches = sum(1 for p in payloads if _search_matches_topic(p, filters.topic))
        views = db.session.scalar(
            sa.select(sa.func.count(Event.id)).where(
                Event.event_type == EventType.PROFILE_VIEW, *in_range,
                Event.mentor_id.in_(sa.select(mentor_topics.c.mentor_id).where(mentor_topics.c.topic_id == topic_id))))
    return pd.DataFrame({"event_type": ["search"] * searches + ["profile_view"] * int(views or 0)})


def funnel_bookings(filters: Filters):
    """Bookings requested in the range: status, was_accepted (an `accepted` outcome event), reviewed."""
    topic_id = _topic_id(filters)
    accepted = (sa.select(Event.booking_id).where(Event.event_type == EventType.BOOKING_OUTCOME,
                                                  Event.booking_id == Booking.id,
                                                  Event.payload["outcome"].as_string() == "accepted")
                .exists())
    reviewed = sa.select(Review.id).where(Review.booking_id == Booking.id).exists()
    statement = (sa.select(Booking.status, accepted, reviewed)
                 .where(Booking.created_at >= filters.since, Booking.created_at < filters.until))
    if topic_id is not None:
        statement = statement.where(Booking.topic_id == topic_id)
    frame = _frame(statement, ["status", "was_accepted", "reviewed"])
    if len(frame):
        frame["status"] = frame["status"].map(lambda s: getattr(s, "value", s))
    return frame


def _user_topic_filter(statement, topic_id: int | None):
    if topic_id is None:
        return statement
    return statement.where(sa.or_(
        User.id.in_(sa.select(learner_topics.c.learner_id).where(learner_topics.c.topic_id == topic_id)),
        User.id.in_(sa.select(mentor_topics.c.mentor_id).where(mentor_topics.c.topic_id == topic_id))))


def signup_rows(filters: Filters):
    """One row per (user, role) of users created in the range: user_id, role, created_at."""
    statement = (sa.select(User.id, UserRole.role, User.created_at).join(UserRole, UserRole.user_id == User.id)
                 .where(User.created_at >= filters.since, User.created_at < filters.until))
    frame = _frame(_user_topic_filter(statement, _topic_id(filters)), ["user_id", "role", "created_at"])
    if len(frame):
        frame["role"] = frame["role"].map(lambda r: getattr(r, "value", r))
    return frame


def verification_rows(filters: Filters):
    """Users created in the range: email_verified, phone_verified."""
    statement = (sa.select(User.id, User.email_verified_at.is_not(None), User.phone_verified_at.is_not(None))
                 .where(User.created_at >= filters.since, User.created_at < filters.until))
    return _frame(_user_topic_filter(statement, _topic_id(filters)), ["user_id", "email_verified", "phone_verified"])


def cohort_rows(filters: Filters):
    """(users, activity): users who signed up in the range, and their events from the start of the range on."""
    users = _frame(_user_topic_filter(
        sa.select(User.id, User.created_at).where(User.created_at >= filters.since, User.created_at < filters.until),
        _topic_id(filters)), ["user_id", "signed_up_at"])
    activity = _frame(
        sa.select(Event.user_id, Event.occurred_at).where(
            Event.user_id.is_not(None), Event.occurred_at >= filters.since,
            Event.user_id.in_(_user_topic_filter(sa.select(User.id).where(
                User.created_at >= filters.since, User.created_at < filters.until), _topic_id(filters)))),
        ["user_id", "at"])
    return users, activity


def message_rows(filters: Filters):
    """Messages sent in the range: created_at, room_kind, sender_id (by topic: its public rooms)."""
    topic_id = _topic_id(filters)
    statement = (sa.select(Message.created_at, ChatRoom.kind, Message.sender_id)
                 .join(ChatRoom, ChatRoom.id == Message.room_id)
                 .where(Message.created_at >= filters.since, Message.created_at < filters.until))
    if topic_id is not None:
        statement = statement.where(ChatRoom.topic_id == topic_id)
    return _frame(statement, ["created_at", "room_kind", "sender_id"])


# --- mentors ------------------------------------------------------------------------------------

def mentor_review_rows(mentor_id: int, filters: Filters | None = None):
    """Visible reviews of the mentor: created_at, rating (all time unless a range is given)."""
    statement = sa.select(Review.created_at, Review.rating).where(Review.mentor_id == mentor_id,
                                                                   Review.hidden.is_(False))
    if filters is not None:
        statement = statement.where(Review.created_at >= filters.since, Review.created_at < filters.until)
    return _frame(statement, ["created_at", "rating"])


# --- the mentors table: aggregated in SQL, for one page of mentors at a time ---------------------

OPEN_BOOKINGS = (BookingStatus.REQUESTED, BookingStatus.ACCEPTED)  # not finished: left out of the rates
ANSWERS = ("accepted", "rejected")  # a mentor's first answer to a request


def _mentors_where(statement, status: str | None, mentor_ids: list[int] | None):
    if status:
        statement = statement.where(MentorProfile.status == MentorStatus(status))
    if mentor_ids is not None:
        statement = statement.where(MentorProfile.user_id.in_(mentor_ids))
    return statement


def mentor_count(status: str | None = None) -> int:
    """How many mentors (of a status)."""
    return db.session.scalar(_mentors_where(sa.select(sa.func.count()).select_from(MentorProfile), status, None)) or 0


def mentor_rows(status: str | None = None, mentor_ids: list[int] | None = None, limit: int | None = None,
                offset: int = 0) -> list:
    """Mentors by name (one page with limit/offset): user_id, full_name, email, status, status_reason, ratings."""
    statement = _mentors_where(
        sa.select(MentorProfile.user_id, User.full_name, User.email, MentorProfile.status, MentorProfile.status_reason,
                  MentorProfile.rating_sum, MentorProfile.rating_count)
        .join(User, User.id == MentorProfile.user_id), status, mentor_ids).order_by(User.full_name, User.id)
    if limit is not None:
        statement = statement.limit(limit).offset(offset)
    return db.session.execute(statement).all()


def _bookings_in_range(statement, filters: Filters, mentor_ids: list[int] | None):
    statement = statement.where(Booking.created_at >= filters.since, Booking.created_at < filters.until)
    topic_id = _topic_id(filters)
    if topic_id is not None:
        statement = statement.where(Booking.topic_id == topic_id)
    if mentor_ids is not None:
        statement = statement.where(Booking.mentor_id.in_(mentor_ids))
    return statement


def mentor_booking_counts(filters: Filters, mentor_ids: list[int] | None = None) -> dict[int, dict]:
    """Per mentor, bookings requested in the range counted by status in one GROUP BY (None: every mentor)."""
    def count(*statuses, negate: bool = False):
        test = Booking.status.not_in(statuses) if negate else Booking.status.in_(statuses)
        return sa.func.sum(sa.case((test, 1), else_=0))

    S = BookingStatus
    statement = _bookings_in_range(sa.select(
        Booking.mentor_id, sa.func.count(Booking.id), count(*OPEN_BOOKINGS, negate=True), count(S.COMPLETED),
        count(S.CANCELLED_BY_LEARNER, S.CANCELLED_BY_MENTOR), count(S.CANCELLED_BY_MENTOR), count(S.NO_SHOW),
        count(S.REJECTED), count(S.EXPIRED)), filters, mentor_ids).group_by(Booking.mentor_id)
    names = ("requests", "finished", "completed", "cancelled", "cancelled_by_mentor", "no_show", "rejected", "expired")
    return {int(row[0]): dict(zip(names, (int(v or 0) for v in row[1:]))) for row in db.session.execute(statement)}


def mentor_response_hours(filters: Filters, mentor_ids: list[int] | None = None) -> dict[int, list[float]]:
    """Per mentor, hours from each request in the range to the mentor's first answer (accept or reject).

    The answers are the booking-outcome events, found through their mentor (indexed) and grouped by
    booking in SQL; the app writes the outcome as `outcome`, the demo seeder as `status`.
    """
    outcome = sa.func.coalesce(Event.payload["outcome"].as_string(), Event.payload["status"].as_string())
    answered = (sa.select(Event.booking_id.label("booking_id"), sa.func.min(Event.occurred_at).label("at"))
                .where(Event.event_type == EventType.BOOKING_OUTCOME, Event.booking_id.is_not(None),
                       Event.occurred_at >= filters.since, outcome.in_(ANSWERS)))
    if mentor_ids is not None:
        answered = answered.where(Event.mentor_id.in_(mentor_ids))
    answered = answered.group_by(Event.booking_id).subquery()
    statement = _bookings_in_range(sa.select(Booking.mentor_id, Booking.created_at, answered.c.at)
                                   .join(answered, answered.c.booking_id == Booking.id), filters, mentor_ids)
    hours: dict[int, list[float]] = {}
    for mentor_id, requested, at in db.session.execute(statement):
        if requested is not None and at is not None:
            hours.setdefault(int(mentor_id), []).append((_aware(at) - _aware(requested)).total_seconds() / 3600)
    return hours


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def mentor_earnings(filters: Filters, mentor_ids: list[int] | None = None) -> dict[int, list[dict]]:
    """Per mentor and currency, captured payments made in the range: captured, fee, succeeded refunds, earnings."""
    refunded = (sa.select(Refund.payment_id, sa.func.sum(Refund.amount_minor).label("amount"))
                .where(Refund.status.in_(REFUND_COUNTED)).group_by(Refund.payment_id).subquery())
    statement = (sa.select(Booking.mentor_id, Payment.currency, sa.func.sum(Payment.captured_minor),
                           sa.func.sum(Payment.platform_fee_minor), sa.func.sum(sa.func.coalesce(refunded.c.amount, 0)))
                 .join(Booking, Booking.id == Payment.booking_id)
                 .outerjoin(refunded, refunded.c.payment_id == Payment.id)
                 .where(Payment.captured_minor > 0, Payment.created_at >= filters.since,
                        Payment.created_at < filters.until)
                 .group_by(Booking.mentor_id, Payment.currency).order_by(Booking.mentor_id, Payment.currency))
    if mentor_ids is not None:
        statement = statement.where(Booking.mentor_id.in_(mentor_ids))
    money: dict[int, list[dict]] = {}
    for mentor_id, currency, captured, fee, refunds in db.session.execute(statement):
        captured, fee = int(captured or 0), int(fee or 0)
        money.setdefault(int(mentor_id), []).append({
            "mentor_id": int(mentor_id), "currency": currency, "captured_minor": captured, "fee_minor": fee,
            "refunds_minor": int(refunds or 0), "earnings_minor": captured - fee})
    return money
