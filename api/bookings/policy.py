"""Booking rules: each mentor's slot policy, the cancellation policy, and the hook payments listens on.

Payments turns cancellations into refunds by registering a listener (api.payments.service.on_booking_transition):

    from api.bookings.policy import on_transition

    @on_transition
    def refund(change):            # a BookingTransition, inside the same database transaction
        if change.terms and change.terms.refund_percent:
            ...create the Refund rows for change.booking...

Listeners run before the commit, so what they write commits or rolls back with the transition.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from flask import current_app

from api.bookings.slots import BookingPolicy
from api.extensions import db
from api.settings import current_settings
from api.tables import Booking, BookingStatus, MentorBookingPolicy, MentorProfile, ModelSetting

_LOOK_UP = object()


def policy_for(mentor: MentorProfile, own: MentorBookingPolicy | None | object = _LOOK_UP) -> BookingPolicy:
    """The mentor's own policy where set, the settings' defaults elsewhere.

    `own`: the mentor's MentorBookingPolicy row (or None: they have none) when the caller already read it.
    """
    config = current_settings()
    if own is _LOOK_UP:
        own = db.session.get(MentorBookingPolicy, mentor.user_id)

    def pick(name: str, default: int) -> int:
        value = getattr(own, name, None) if own is not None else None
        return default if value is None else value

    return BookingPolicy(
        session_minutes=mentor.session_minutes,
        buffer_minutes=pick("buffer_minutes", config.booking_buffer_minutes),
        min_notice_minutes=pick("min_notice_minutes", config.booking_min_notice_minutes),
        horizon_days=pick("horizon_days", config.booking_horizon_days),
        slot_step_minutes=pick("slot_step_minutes", config.booking_slot_step_minutes),
    )


@dataclass(frozen=True)
class CancellationTerms:
    """What a cancellation (or another ending) means for the learner's money."""

    refund_percent: int
    late: bool
    explanation: str


def cancellation_terms(booking: Booking, actor_role: str, now: datetime, to_status: BookingStatus | None = None) -> CancellationTerms:
    """The policy: mentors' cancellations, rejections, expiries and cancelled requests refund in full;
    a learner cancelling an accepted session refunds in full up to the cut-off before its start and
    `booking_late_cancel_refund_percent` after it (both overridable by the admin, see `refund_rules`);
    a no-show refunds nothing."""
    if to_status == BookingStatus.NO_SHOW:
        return CancellationTerms(0, True, "The learner did not attend: no refund.")
    if actor_role != "learner" or booking.status == BookingStatus.REQUESTED:
        return CancellationTerms(100, False, "Full refund.")
    cutoff_hours, percent = refund_rules()
    cutoff = booking.starts_at - timedelta(hours=cutoff_hours)
    if now <= cutoff:
        return CancellationTerms(100, False, f"Full refund: more than {cutoff_hours} hours before the session.")
    return CancellationTerms(percent, True, f"Late cancellation (less than {cutoff_hours} hours "
                                            f"before the session): {percent}% refund.")


def refund_rules() -> tuple[int, int]:
    """(cut-off hours, late refund percent): the admin's ModelSetting "payments.refund_policy", else the settings."""
    config = current_settings()
    row = db.session.get(ModelSetting, "payments.refund_policy")
    value = row.value if row is not None and isinstance(row.value, dict) else {}
    cutoff = int(value.get("cutoff_hours", config.booking_cancel_cutoff_hours))
    percent = int(value.get("late_refund_percent", config.booking_late_cancel_refund_percent))
    return cutoff, max(0, min(100, percent))


def payment_first() -> bool:
    """Whether a request waits for the learner's verified payment (the payments feature is installed and on):
    the mentor is told about it, and can accept it, only once paid."""
    required = current_app.config.get("PAYMENTS_REQUIRED", current_settings().payments_required)
    return bool(required) and "payments" in current_app.blueprints


@dataclass(frozen=True)
class BookingTransition:
    """One change of a booking's state, as listeners see it."""

    booking: Booking
    from_status: BookingStatus
    to_status: BookingStatus
    actor_id: int | None  # None: the system (expiry, auto-completion)
    actor_role: str  # learner | mentor | system
    reason: str | None
    at: datetime
    terms: CancellationTerms | None  # set for every ending that may move money
    rescheduled_from: tuple[datetime, datetime] | None = None


TransitionListener = Callable[[BookingTransition], None]
_listeners: list[TransitionListener] = []


def on_transition(listener: TransitionListener) -> TransitionListener:
    """Register a listener for every booking transition (usable as a decorator)."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def remove_listener(listener: TransitionListener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def emit(change: BookingTransition) -> None:
    for listener in list(_listeners):
        listener(change)
