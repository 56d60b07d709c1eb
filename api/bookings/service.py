"""The booking state machine and the operations on it; every check happens here, on the server.

    requested --accept--> accepted --complete--> completed
        |  \\--reject--> rejected        |--cancel (learner)--> cancelled_by_learner
        |  \\--expire--> expired         |--cancel (mentor)---> cancelled_by_mentor
        \\--cancel (learner)--> cancelled_by_learner   \\--no-show--> no_show

Rescheduling moves a requested or accepted booking to a new, re-checked slot; a learner moving an
accepted session sends it back to `requested` for the mentor to confirm.

A booking in `requested` holds its slot just like an `accepted` one (the PostgreSQL exclusion
constraint covers both): a second learner cannot request a slot that is waiting for the mentor's
answer, so a mentor never has to choose between learners and nobody is offered a slot that is about
to vanish; the slot frees when the request is rejected, cancelled or expires (`booking_answer_hours`).
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from flask import current_app
from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.orm import joinedload, lazyload, load_only
from sqlalchemy.exc import IntegrityError

from api.activity import log_event
from api.addresses import public_base_url
from api.bookings import calendar_sync, notices
from api.bookings.policy import (BookingTransition, CancellationTerms, cancellation_terms, emit, payment_first,
                                 policy_for)
from api.bookings.slots import BookingPolicy, Interval, SlotRefusal, check_offered, free_slots, zone
from api.bookings.timefmt import format_when
from api.bookings.transaction import after_commit, lock_learner, serialised_write
from api.errors import RefusedError
from api.extensions import db
from api.money import price_in
from api.settings import current_settings
from api.tables import (
    ACTIVE_BOOKING_STATUSES,
    AvailabilityException,
    Booking,
    BookingChange,
    BookingStatus,
    CalendarConnection,
    EventType,
    MentorBookingPolicy,
    MentorProfile,
    MentorStatus,
    Payment,
    PaymentStatus,
    Review,
    Role,
    User,
    utcnow,
)

logger = logging.getLogger(__name__)

S = BookingStatus
OVERLAP_CONSTRAINT = "ex_bookings_mentor_no_overlap"
_KEEP = "mentorhub.bookings.keep"  # session.info: the last requested mentor's user row, kept loaded
SLOT_TAKEN = "That slot is no longer free: another booking holds it (requested or accepted). Please choose another time."
MAX_REACH_DAYS = 3660  # beyond any booking horizon (at most 365 days) and any past session still handled

# from status -> to status -> who may make the change
TRANSITIONS: dict[BookingStatus, dict[BookingStatus, frozenset[str]]] = {
    S.REQUESTED: {
        S.ACCEPTED: frozenset({"mentor"}),
        S.REJECTED: frozenset({"mentor"}),
        S.EXPIRED: frozenset({"system"}),
        S.CANCELLED_BY_LEARNER: frozenset({"learner"}),
    },
    S.ACCEPTED: {
        S.COMPLETED: frozenset({"mentor", "system"}),
        S.CANCELLED_BY_LEARNER: frozenset({"learner"}),
        S.CANCELLED_BY_MENTOR: frozenset({"mentor"}),
        S.NO_SHOW: frozenset({"mentor"}),
    },
}
# endings that may move money: the payments listener gets CancellationTerms for them
MONEY_ENDINGS = {S.REJECTED, S.EXPIRED, S.CANCELLED_BY_LEARNER, S.CANCELLED_BY_MENTOR, S.NO_SHOW}


class BookingError(RefusedError):
    """A refused booking operation (status, message, field: `RefusedError`)."""


def now_utc() -> datetime:
    """The current time: the product's one clock (tests fix it with `clock.fixed(...)`, the `fixed_clock` fixture)."""
    return utcnow()


# ---------------------------------------------------------------- reading


def get_mentor(mentor_id: int, *, bookable: bool = True) -> MentorProfile:
    # bookings need neither topics nor certifications; the weekly rules come in the same statement (joined)
    mentor = db.session.scalars(select(MentorProfile).where(MentorProfile.user_id == mentor_id).options(
        lazyload(MentorProfile.topics), lazyload(MentorProfile.certifications),
        joinedload(MentorProfile.availability))).unique().first()
    if mentor is None:
        raise BookingError(404, "There is no mentor with that id.", "mentor_id")
    if bookable and mentor.status != MentorStatus.APPROVED:
        raise BookingError(422, "This mentor is not taking bookings (their profile is not approved).", "mentor_id")
    return mentor


@dataclass
class _BookingTarget:
    """What a request needs of its mentor, read in one statement."""

    mentor: MentorProfile
    own_policy: MentorBookingPolicy | None
    calendar: CalendarConnection | None
    user: User
    exceptions: list[AvailabilityException]  # those within _exception_range of the requested start


@lru_cache(maxsize=None)
def _target_query():
    """Built once (statement construction costs more CPU than running it); the values are bound parameters.

    One row per availability exception near the requested start (usually none: one row), each with the
    mentor's profile (only the columns a request uses), weekly rules (joined), own policy, connected
    calendar and user row.
    """
    return (select(MentorProfile, MentorBookingPolicy, CalendarConnection, User, AvailabilityException)
            .join(User, User.id == MentorProfile.user_id)
            .outerjoin(MentorBookingPolicy, MentorBookingPolicy.mentor_id == MentorProfile.user_id)
            .outerjoin(CalendarConnection, and_(CalendarConnection.user_id == MentorProfile.user_id,
                                                CalendarConnection.provider == calendar_sync.PROVIDER,
                                                CalendarConnection.status == "connected"))
            .outerjoin(AvailabilityException, and_(AvailabilityException.mentor_id == MentorProfile.user_id,
                                                   AvailabilityException.on_date.between(bindparam("lower"),
                                                                                         bindparam("upper"))))
            .where(MentorProfile.user_id == bindparam("mentor_id"))
            .options(load_only(MentorProfile.user_id, MentorProfile.status, MentorProfile.timezone,
                               MentorProfile.session_minutes, MentorProfile.price_minor, MentorProfile.currency),
                     lazyload(MentorProfile.topics), lazyload(MentorProfile.certifications),
                     joinedload(MentorProfile.availability), lazyload(User.roles)))


def _booking_target(mentor_id: int, starts_at: datetime) -> _BookingTarget:
    """The mentor a learner asks for, with all a request reads of them, in one statement; 404/422 unless bookable."""
    lower, upper = _exception_range(starts_at, starts_at)
    rows = db.session.execute(_target_query(), {"mentor_id": mentor_id, "lower": lower, "upper": upper}).unique().all()
    if not rows:
        raise BookingError(404, "There is no mentor with that id.", "mentor_id")
    mentor, own_policy, calendar, user, _ = rows[0]
    if mentor.status != MentorStatus.APPROVED:
        raise BookingError(422, "This mentor is not taking bookings (their profile is not approved).", "mentor_id")
    exceptions = sorted({row[4] for row in rows if row[4] is not None}, key=lambda exception: exception.id)
    return _BookingTarget(mentor, own_policy, calendar, user, exceptions)


def _check_within_reach(starts_at: datetime, now: datetime) -> None:
    """Refuse times no policy could offer (a year 9999 or 0001 start would overflow the date arithmetic)."""
    if abs(starts_at - now) > timedelta(days=MAX_REACH_DAYS):
        raise BookingError(422, "That time is outside the booking window; choose one of the offered slots.",
                           "starts_at")


def _exception_range(first: datetime, last: datetime):
    return (first - timedelta(days=2)).date(), (last + timedelta(days=2)).date()


def _exceptions(mentor_id: int, first: datetime, last: datetime) -> list[AvailabilityException]:
    lower, upper = _exception_range(first, last)
    return list(db.session.scalars(_exceptions_query(), {"mentor_id": mentor_id, "lower": lower, "upper": upper}))


@lru_cache(maxsize=None)
def _exceptions_query():
    return select(AvailabilityException).where(AvailabilityException.mentor_id == bindparam("mentor_id"),
                                               AvailabilityException.on_date.between(bindparam("lower"),
                                                                                     bindparam("upper")))


def active_bookings(mentor_id: int, start: datetime, end: datetime, exclude_id: int | None = None) -> list[Booking]:
    query = select(Booking).where(
        Booking.mentor_id == mentor_id,
        Booking.status.in_(ACTIVE_BOOKING_STATUSES),
        Booking.starts_at < end,
        Booking.ends_at > start,
    )
    if exclude_id is not None:
        query = query.where(Booking.id != exclude_id)
    return list(db.session.scalars(query))


def calendar_busy(mentor_id: int, start: datetime, end: datetime, **known) -> list[Interval]:
    """The mentor's busy times in their connected external calendar (empty when none or broken).

    `connection=`: their connected CalendarConnection (or None) when already read."""
    if "connection" in known and known["connection"] is None:
        return []  # not connected: nothing to ask
    return calendar_sync.busy_intervals(mentor_id, start, end, **known)


def mentor_free_slots(mentor: MentorProfile, now: datetime, start: datetime | None = None,
                      end: datetime | None = None) -> list[Interval]:
    """Slots a learner can request now: availability and policy minus bookings and calendar busy times."""
    policy = policy_for(mentor)
    lower = max(start or now, policy.earliest_start(now))
    upper = min(end or policy.latest_start(now), policy.latest_start(now))
    if lower > upper:
        return []
    margin = policy.buffer + policy.session
    busy = [Interval(b.starts_at, b.ends_at) for b in active_bookings(mentor.user_id, lower - margin, upper + margin)]
    busy += calendar_busy(mentor.user_id, lower - margin, upper + margin)
    return free_slots(mentor.availability, _exceptions(mentor.user_id, lower, upper), mentor.timezone, policy,
                      now, busy, lower, upper)


def _offered_slot(mentor: MentorProfile, policy: BookingPolicy, starts_at: datetime, now: datetime,
                  exceptions: list[AvailabilityException] | None = None) -> Interval:
    """`exceptions`: the mentor's exceptions within _exception_range(starts_at, starts_at) when already read."""
    if exceptions is None:
        exceptions = _exceptions(mentor.user_id, starts_at, starts_at)
    try:
        return check_offered(starts_at, mentor.availability, exceptions, mentor.timezone, policy, now)
    except SlotRefusal as refusal:
        raise BookingError(422, refusal.message, refusal.field) from None


def _check_calendar(mentor: MentorProfile, slot: Interval, policy: BookingPolicy, **known) -> None:
    for busy in calendar_busy(mentor.user_id, slot.start - policy.buffer, slot.end + policy.buffer, **known):
        if slot.overlaps(busy, policy.buffer):
            raise BookingError(409, "The mentor is busy at that time (their calendar shows another commitment). "
                                    "Please choose another time.", "starts_at")


@lru_cache(maxsize=None)
def _clash_query(excluding: bool):
    """At most two bookings in the given statuses that clash with a slot (built once; values are bound)."""
    query = select(Booking.mentor_id, Booking.learner_id).where(
        Booking.status.in_(bindparam("statuses", expanding=True)),
        or_(and_(Booking.mentor_id == bindparam("mentor_id"), Booking.starts_at < bindparam("padded_end"),
                 Booking.ends_at > bindparam("padded_start")),
            and_(Booking.learner_id == bindparam("learner_id"), Booking.starts_at < bindparam("end"),
                 Booking.ends_at > bindparam("start"))))
    if excluding:
        query = query.where(Booking.id != bindparam("exclude_id"))
    return query.limit(2)


def _check_free(mentor_id: int, learner_id: int, slot: Interval, policy: BookingPolicy,
                exclude_id: int | None = None, statuses=ACTIVE_BOOKING_STATUSES) -> None:
    """Inside the serialised transaction: nothing of the mentor (with buffer) or the learner in `statuses` overlaps."""
    padded = Interval(slot.start - policy.buffer, slot.end + policy.buffer)
    params = {"statuses": list(statuses), "mentor_id": mentor_id, "padded_start": padded.start,
              "padded_end": padded.end, "learner_id": learner_id, "start": slot.start, "end": slot.end}
    if exclude_id is not None:
        params["exclude_id"] = exclude_id
    clashes = db.session.execute(_clash_query(exclude_id is not None), params).all()
    if any(row.mentor_id == mentor_id for row in clashes):
        raise BookingError(409, SLOT_TAKEN, "starts_at")
    if clashes:
        raise BookingError(409, "You already have a session at that time.", "starts_at")


def _is_overlap_violation(error: IntegrityError) -> bool:
    return OVERLAP_CONSTRAINT in str(error.orig)


def _respond_by(now: datetime, starts_at: datetime) -> datetime:
    return min(now + timedelta(hours=current_settings().booking_answer_hours), starts_at)


def user_by_id(user_id: int) -> User:
    """A user for naming and notifying (their roles are not needed); no query when the session holds them."""
    return db.session.get(User, user_id, options=[lazyload(User.roles)])


def booking_link(booking_id: int) -> str:
    return f"{public_base_url()}/bookings/{booking_id}"


# ---------------------------------------------------------------- requesting


def request_booking(learner: User, mentor_id: int, starts_at: datetime, note: str = "",
                    topic_id: int | None = None, now: datetime | None = None) -> Booking:
    """A learner asks for a slot; refused with 4xx unless it is offered and free at this very moment."""
    now = now or now_utc()
    if not learner.has_role(Role.LEARNER):
        raise BookingError(403, "Only learners can request sessions.", "role")
    _check_within_reach(starts_at, now)
    target = _booking_target(mentor_id, starts_at)
    mentor, mentor_user = target.mentor, target.user
    if mentor.user_id == learner.id:
        raise BookingError(422, "You cannot book a session with yourself.", "mentor_id")
    policy = policy_for(mentor, target.own_policy)
    slot = _offered_slot(mentor, policy, starts_at, now, target.exceptions)
    _check_calendar(mentor, slot, policy, connection=target.calendar)  # a network call: outside the write lock
    price, currency, mentor_user_id = mentor.price_minor, mentor.currency, mentor.user_id
    charge, charge_currency = price_in(price, currency, learner.currency)  # shown on the request and charged
    # the caller names the mentor in its answer (booking_json): the session's identity map holds its rows
    # only weakly, so keep the user row alive for the rest of the session instead of reading it again
    db.session.info[_KEEP] = mentor_user
    try:
        with serialised_write():
            lock_learner(learner.id)
            _check_free(mentor_user_id, learner.id, slot, policy)
            booking = Booking(learner_id=learner.id, mentor_id=mentor_user_id, topic_id=topic_id,
                              starts_at=slot.start, ends_at=slot.end, status=S.REQUESTED, note=note or "",
                              price_minor=price, currency=currency, charge_minor=charge,
                              charge_currency=charge_currency, respond_by=_respond_by(now, slot.start))
            db.session.add(booking)
            db.session.flush()
            log_event(EventType.BOOKING_REQUEST, user_id=learner.id, mentor_id=mentor_user_id, booking_id=booking.id,
                      occurred_at=now, starts_at=slot.start.isoformat(), minutes=policy.session_minutes,
                      topic_id=topic_id, has_note=bool(note))
            if not payment_first():  # otherwise payments tells the mentor once the learner's payment is verified
                notices.notify(mentor_user, "booking.requested", f"New session request from {learner.full_name}",
                               f"{learner.full_name} asks for {format_when(slot.start, slot.end, mentor_user.timezone)}."
                               f" Please accept or reject it before "
                               f"{format_when(booking.respond_by, None, mentor_user.timezone)}."
                               + (f"\nTheir note: {note}" if note else ""), booking.id, booking_link(booking.id))
            notices.notify(learner, "booking.requested", f"Request sent to {mentor_user.full_name}",
                           f"You asked for {format_when(slot.start, slot.end, learner.timezone)}. "
                           f"We will tell you when {mentor_user.full_name} answers.", booking.id, booking_link(booking.id))
    except IntegrityError as error:
        if _is_overlap_violation(error):
            raise BookingError(409, SLOT_TAKEN, "starts_at") from None
        raise
    return booking


# ---------------------------------------------------------------- transitions


@dataclass
class _Actor:
    user_id: int | None
    role: str  # learner | mentor | system


def actor_for(booking: Booking, user: User | None) -> _Actor:
    """Which side of the booking `user` is; someone else's booking is refused (403 naming booking_id)."""
    if user is None:
        return _Actor(None, "system")
    if booking.mentor_id == user.id:
        return _Actor(user.id, "mentor")
    if booking.learner_id == user.id:
        return _Actor(user.id, "learner")
    raise BookingError(403, "This booking is not yours.", "booking_id")


def _locked(booking_id: int) -> Booking:
    """The booking re-read inside the write transaction (row-locked on PostgreSQL)."""
    booking = db.session.scalar(select(Booking).where(Booking.id == booking_id).with_for_update()
                                .execution_options(populate_existing=True))
    if booking is None:
        raise BookingError(404, "There is no booking with that id.", "booking_id")
    return booking


def _transition(booking_id: int, user: User | None, to: BookingStatus, now: datetime, reason: str | None = None,
                expected_role: str | None = None) -> Booking:
    try:
        with serialised_write():
            booking = _locked(booking_id)
            actor = actor_for(booking, user)
            if expected_role and actor.role != expected_role:
                raise BookingError(403, f"Only the booking's {expected_role} can do that.", "booking_id")
            allowed = TRANSITIONS.get(booking.status, {}).get(to)
            if allowed is None:
                raise BookingError(409, f"A booking that is {booking.status.value.replace('_', ' ')} cannot become "
                                        f"{to.value.replace('_', ' ')}.", "status")
            if actor.role not in allowed:
                raise BookingError(403, f"Only the {' or '.join(sorted(allowed))} can make a booking "
                                        f"{to.value.replace('_', ' ')}.", "booking_id")
            _check_timing(booking, to, actor, now)
            if to == S.ACCEPTED:
                mentor = get_mentor(booking.mentor_id, bookable=False)
                # only confirmed sessions block an accept: with the exclusion constraint no other request can
                # overlap this one; without it (SQLite, rows written outside the API) the first accepted wins
                _check_free(booking.mentor_id, booking.learner_id, Interval(booking.starts_at, booking.ends_at),
                            policy_for(mentor), exclude_id=booking.id, statuses=(S.ACCEPTED,))
                booking.video_link = current_settings().booking_video_link_template.format(token=secrets.token_hex(8),
                                                                                  booking_id=booking.id)
            terms = cancellation_terms(booking, actor.role, now, to) if to in MONEY_ENDINGS else None
            from_status = booking.status
            booking.status = to
            booking.status_reason = reason or None
            booking.respond_by = None if to != S.REQUESTED else booking.respond_by
            log_event(EventType.BOOKING_OUTCOME, user_id=actor.user_id, mentor_id=booking.mentor_id,
                      booking_id=booking.id, occurred_at=now, outcome=to.value, from_status=from_status.value,
                      actor=actor.role, reason=reason or None,
                      refund_percent=terms.refund_percent if terms else None)
            emit(BookingTransition(booking, from_status, to, actor.user_id, actor.role, reason, now, terms))
            _notify_transition(booking, to, actor, reason, terms)
            _sync_calendars_after_commit(booking.id)
    except IntegrityError as error:
        if _is_overlap_violation(error):
            raise BookingError(409, SLOT_TAKEN, "starts_at") from None
        raise
    return booking


def _check_timing(booking: Booking, to: BookingStatus, actor: _Actor, now: datetime) -> None:
    config = current_settings()
    if to in (S.ACCEPTED, S.REJECTED, S.CANCELLED_BY_LEARNER, S.CANCELLED_BY_MENTOR) and now >= booking.starts_at:
        raise BookingError(409, "The session has already started.", "status")
    if to == S.ACCEPTED and booking.respond_by is not None and now >= booking.respond_by:
        raise BookingError(409, "This request has expired; the learner can request again.", "status")
    if to == S.EXPIRED:
        deadline = booking.respond_by or min(booking.created_at + timedelta(hours=config.booking_answer_hours),
                                             booking.starts_at)
        if now < deadline:
            raise BookingError(409, "The request has not expired yet.", "status")
    if to == S.NO_SHOW and now < booking.starts_at:
        raise BookingError(409, "A no-show can only be reported once the session has started.", "status")
    if to == S.COMPLETED:
        due = booking.ends_at if actor.role == "mentor" else booking.ends_at + timedelta(hours=config.booking_complete_after_hours)
        if now < due:
            raise BookingError(409, "The session has not ended yet.", "status")


VERBS = {
    S.ACCEPTED: ("booking.accepted", "Session confirmed"),
    S.REJECTED: ("booking.rejected", "Session request declined"),
    S.EXPIRED: ("booking.expired", "Session request expired"),
    S.CANCELLED_BY_LEARNER: ("booking.cancelled", "Session cancelled by the learner"),
    S.CANCELLED_BY_MENTOR: ("booking.cancelled", "Session cancelled by the mentor"),
    S.COMPLETED: ("booking.completed", "Session completed"),
    S.NO_SHOW: ("booking.no_show", "Session marked as a no-show"),
    S.REQUESTED: ("booking.rescheduled", "Session moved: waiting for the mentor to confirm"),
}


def _notify_transition(booking: Booking, to: BookingStatus, actor: _Actor, reason: str | None,
                       terms: CancellationTerms | None) -> None:
    kind, title = VERBS[to]
    mentor, learner = user_by_id(booking.mentor_id), user_by_id(booking.learner_id)
    for person, other in ((mentor, learner), (learner, mentor)):
        body = f"{title}: {format_when(booking.starts_at, booking.ends_at, person.timezone)} with {other.full_name}."
        if reason:
            body += f"\nReason: {reason}"
        if to == S.ACCEPTED and booking.video_link:
            body += f"\nVideo link: {booking.video_link}"
        if terms is not None and person.id == learner.id and to != S.COMPLETED:
            body += f"\n{terms.explanation}"
        if to == S.COMPLETED and person.id == learner.id:
            body += f"\nHow was it? Rate this session: {booking_link(booking.id)}/review"
        notices.notify(person, kind, title, body, booking.id, booking_link(booking.id))


def _sync_calendars_after_commit(booking_id: int) -> None:
    app = current_app._get_current_object()

    def _sync() -> None:
        calendar_sync.sync_booking(app, booking_id)

    after_commit(_sync)


def accept(booking_id: int, user: User, now: datetime | None = None) -> Booking:
    return _transition(booking_id, user, S.ACCEPTED, now or now_utc(), expected_role="mentor")


def reject(booking_id: int, user: User, reason: str, now: datetime | None = None) -> Booking:
    if not (reason or "").strip():
        raise BookingError(422, "Please give the learner a reason.", "reason")
    return _transition(booking_id, user, S.REJECTED, now or now_utc(), reason.strip(), expected_role="mentor")


def cancel(booking_id: int, user: User, reason: str = "", now: datetime | None = None) -> Booking:
    booking = db.session.get(Booking, booking_id)
    if booking is None:
        raise BookingError(404, "There is no booking with that id.", "booking_id")
    actor = actor_for(booking, user)
    to = S.CANCELLED_BY_MENTOR if actor.role == "mentor" else S.CANCELLED_BY_LEARNER
    if actor.role == "mentor" and booking.status == S.REQUESTED:
        raise BookingError(409, "To turn down a request, reject it with a reason.", "status")
    if actor.role == "mentor" and not (reason or "").strip():
        raise BookingError(422, "Please tell the learner why you cancel.", "reason")
    return _transition(booking_id, user, to, now or now_utc(), (reason or "").strip() or None)


def complete(booking_id: int, user: User | None, now: datetime | None = None) -> Booking:
    return _transition(booking_id, user, S.COMPLETED, now or now_utc(), expected_role=None if user is None else "mentor")


def mark_no_show(booking_id: int, user: User, reason: str = "", now: datetime | None = None) -> Booking:
    return _transition(booking_id, user, S.NO_SHOW, now or now_utc(), (reason or "").strip() or None,
                       expected_role="mentor")


def expire(booking_id: int, now: datetime | None = None) -> Booking:
    return _transition(booking_id, None, S.EXPIRED, now or now_utc())


def act(action: str, booking_id: int, user: User, reason: str = "") -> Booking:
    """One of the actions `available_actions` offers, by its name: accept, reject, cancel, complete or no-show."""
    if action == "accept":
        return accept(booking_id, user)
    if action == "reject":
        return reject(booking_id, user, reason)
    if action == "cancel":
        return cancel(booking_id, user, reason)
    if action == "complete":
        return complete(booking_id, user)
    return mark_no_show(booking_id, user, reason)


def preview_cancellation(booking_id: int, user: User, now: datetime | None = None) -> CancellationTerms:
    booking = db.session.get(Booking, booking_id)
    if booking is None:
        raise BookingError(404, "There is no booking with that id.", "booking_id")
    actor = actor_for(booking, user)
    to = S.CANCELLED_BY_MENTOR if actor.role == "mentor" else S.CANCELLED_BY_LEARNER
    return cancellation_terms(booking, actor.role, now or now_utc(), to)


# ---------------------------------------------------------------- rescheduling


def reschedule(booking_id: int, user: User, starts_at: datetime, reason: str = "",
               now: datetime | None = None) -> Booking:
    """Move a requested or accepted booking to a new offered, free slot (checked like a new request)."""
    now = now or now_utc()
    booking = db.session.get(Booking, booking_id)
    if booking is None:
        raise BookingError(404, "There is no booking with that id.", "booking_id")
    actor_for(booking, user)
    _check_within_reach(starts_at, now)
    mentor = get_mentor(booking.mentor_id)
    policy = policy_for(mentor)
    slot = _offered_slot(mentor, policy, starts_at, now)
    _check_calendar(mentor, slot, policy)
    config = current_settings()
    try:
        with serialised_write():
            booking = _locked(booking_id)
            actor = actor_for(booking, user)
            if booking.status not in ACTIVE_BOOKING_STATUSES:
                raise BookingError(409, f"A booking that is {booking.status.value.replace('_', ' ')} cannot be moved.",
                                   "status")
            if now >= booking.starts_at:
                raise BookingError(409, "The session has already started.", "status")
            cutoff = booking.starts_at - timedelta(hours=config.booking_cancel_cutoff_hours)
            if actor.role == "learner" and booking.status == S.ACCEPTED and now > cutoff:
                raise BookingError(409, f"Sessions can be moved up to {config.booking_cancel_cutoff_hours} hours "
                                        "before they start; you can still cancel.", "starts_at")
            if slot.start == booking.starts_at:
                raise BookingError(422, "That is the session's current time.", "starts_at")
            lock_learner(booking.learner_id)
            _check_free(booking.mentor_id, booking.learner_id, slot, policy, exclude_id=booking.id)
            old = (booking.starts_at, booking.ends_at)
            db.session.add(BookingChange(booking_id=booking.id, changed_by=actor.user_id, old_starts_at=old[0],
                                         old_ends_at=old[1], new_starts_at=slot.start, new_ends_at=slot.end,
                                         reason=reason or ""))
            from_status = booking.status
            booking.starts_at, booking.ends_at = slot.start, slot.end
            if actor.role == "learner":
                booking.status = S.REQUESTED  # the mentor confirms the learner's new time
            if booking.status == S.REQUESTED:
                booking.respond_by = _respond_by(now, slot.start)
            db.session.flush()
            log_event(EventType.BOOKING_OUTCOME, user_id=actor.user_id, mentor_id=booking.mentor_id,
                      booking_id=booking.id, occurred_at=now, outcome="rescheduled", from_status=from_status.value,
                      to_status=booking.status.value, actor=actor.role, old_starts_at=old[0].isoformat(),
                      new_starts_at=slot.start.isoformat(), reason=reason or None)
            emit(BookingTransition(booking, from_status, booking.status, actor.user_id, actor.role, reason or None,
                                   now, None, rescheduled_from=old))
            mentor_user, learner_user = user_by_id(booking.mentor_id), user_by_id(booking.learner_id)
            for person in (mentor_user, learner_user):
                title = ("Session moved: please confirm the new time" if person.id == mentor_user.id
                         and booking.status == S.REQUESTED else "Session moved")
                notices.notify(person, "booking.rescheduled", title,
                               f"From {format_when(old[0], old[1], person.timezone)}\n"
                               f"to {format_when(slot.start, slot.end, person.timezone)}."
                               + (f"\nReason: {reason}" if reason else ""), booking.id, booking_link(booking.id))
            _sync_calendars_after_commit(booking.id)
    except IntegrityError as error:
        if _is_overlap_violation(error):
            raise BookingError(409, SLOT_TAKEN, "starts_at") from None
        raise
    return booking


# ---------------------------------------------------------------- listing


def bookings_of(user: User, as_role: str, when: str, now: datetime, limit: int = 100) -> list[Booking]:
    """A user's bookings as learner or mentor; upcoming: not yet ended and still open, soonest first."""
    column = Booking.mentor_id if as_role == "mentor" else Booking.learner_id
    query = select(Booking).where(column == user.id)
    open_statuses = (S.REQUESTED, S.ACCEPTED)
    if when == "upcoming":
        query = query.where(Booking.ends_at > now, Booking.status.in_(open_statuses)).order_by(Booking.starts_at)
    else:
        query = query.where(or_(Booking.ends_at <= now, ~Booking.status.in_(open_statuses))).order_by(
            Booking.starts_at.desc())
    return list(db.session.scalars(query.limit(limit)))


def answerable_requests(mentor_id: int, now: datetime) -> int:
    """How many requests wait for the mentor's answer (paid ones only, when payment comes first)."""
    query = select(func.count(Booking.id)).where(
        Booking.mentor_id == mentor_id, Booking.status == S.REQUESTED, Booking.starts_at > now,
        or_(Booking.respond_by.is_(None), Booking.respond_by > now))
    if payment_first():
        query = query.where(select(Payment.id).where(
            Payment.booking_id == Booking.id,
            Payment.status.in_((PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURED))).exists())
    return db.session.scalar(query) or 0


def reviewed_booking_ids(booking_ids) -> set[int]:
    """Which of these bookings already have the learner's review."""
    ids = list(booking_ids)
    if not ids:
        return set()
    return set(db.session.scalars(select(Review.booking_id).where(Review.booking_id.in_(ids))))


def due_for_expiry(now: datetime) -> list[int]:
    answer = timedelta(hours=current_settings().booking_answer_hours)
    return list(db.session.scalars(select(Booking.id).where(
        Booking.status == S.REQUESTED,
        or_(Booking.respond_by <= now, Booking.starts_at <= now,
            and_(Booking.respond_by.is_(None), Booking.created_at <= now - answer)))))


def due_for_completion(now: datetime) -> list[int]:
    grace = timedelta(hours=current_settings().booking_complete_after_hours)
    return list(db.session.scalars(select(Booking.id).where(Booking.status == S.ACCEPTED,
                                                            Booking.ends_at <= now - grace)))


# ---------------------------------------------------------------- a mentor's own policy


def set_own_policy(mentor_id: int, values: dict) -> None:
    """A mentor's own buffer, notice, horizon and slot step (a None value: the platform default)."""
    get_mentor(mentor_id, bookable=False)
    with serialised_write():
        own = db.session.get(MentorBookingPolicy, mentor_id) or MentorBookingPolicy(mentor_id=mentor_id)
        for name, value in values.items():
            setattr(own, name, value)
        db.session.add(own)


# ---------------------------------------------------------------- what a viewer is offered


def available_actions(booking: Booking, role: str) -> list[str]:
    """The buttons to offer; the server re-checks each one anyway."""
    status = booking.status.value
    now = now_utc()
    started = now >= booking.starts_at
    actions: list[str] = []
    if status == "requested" and not started:
        actions += ["accept", "reject", "reschedule"] if role == "mentor" else ["cancel", "reschedule"]
    elif status == "accepted":
        if not started:
            actions += ["cancel", "reschedule"]
        elif role == "mentor":
            actions += ["no-show"] + (["complete"] if now >= booking.ends_at else [])
    return actions


def slot_range(start: str | None, days: int, tz_name: str, now: datetime) -> tuple[datetime, datetime]:
    """[local midnight of `start` (default today), + days) in the viewer's zone, as UTC."""
    tz = zone(tz_name)
    if start:
        try:
            first = date.fromisoformat(start)
        except ValueError:
            raise BookingError(400, "start must be a date like 2026-03-01.", "start") from None
    else:
        first = now.astimezone(tz).date()
    begin = datetime.combine(first, datetime.min.time(), tzinfo=tz)
    return begin, datetime.combine(first + timedelta(days=days), datetime.min.time(), tzinfo=tz)

