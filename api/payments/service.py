"""The money flow of a booking, as real marketplaces run it.

    request  -> the learner pays: the provider authorises (holds) the amount; verified by a signed
                webhook, a signed checkout callback or a server-to-server fetch, never by the browser
    accept   -> capture (refused while the payment is not verified)
    reject / expire / cancel of a request -> release the hold
    cancel of an accepted session -> refund by the policy (mentor: full; learner: full before the
                cut-off, late_refund_percent after it); no-show -> nothing
    completed / ended -> the mentor's earning moves from pending to available

Decisions about money are taken inside the booking's own transaction (the `on_transition` hook) and
written as PaymentOperation rows with an idempotency key derived from booking and operation; the calls
to the provider run after the commit, and the reconciliation job retries whatever is left pending.
Payment states only move forward (RANK), so a late or repeated event never takes a refunded payment
back to paid.
"""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from api.bookings import notices
from api.bookings.policy import BookingTransition, on_transition, payment_first
from api.bookings.service import BookingError, booking_link, now_utc, user_by_id
from api.bookings.timefmt import format_when
from api.bookings.transaction import after_commit, serialised_write
from api.errors import RefusedError
from api.extensions import db
from api.payments import config, ledger
from api.payments.gateways import (AUTHORIZED, CAPTURED, RELEASED, GatewayError, SandboxGateway, gateway,
                                   name_for_currency)
from api.money import format_money, percent_of, price_in
from api.tables import Booking, BookingStatus, Payment, PaymentCheckout, PaymentOperation, PaymentStatus, Refund, User

logger = logging.getLogger(__name__)

S, P = BookingStatus, PaymentStatus
ENDED = frozenset({S.COMPLETED, S.REJECTED, S.EXPIRED, S.CANCELLED_BY_LEARNER, S.CANCELLED_BY_MENTOR, S.NO_SHOW})
RANK = {P.CREATED: 0, P.AUTHORIZED: 1, P.CAPTURED: 2, P.PARTIALLY_REFUNDED: 3, P.REFUNDED: 4, P.RELEASED: 4,
        P.FAILED: 4}
_RUN_AFTER_COMMIT = "mentorhub.payments.run_after_commit"


class PaymentError(RefusedError):
    """A refused payment request (status, message, field: `RefusedError`)."""


def idempotency_key(booking_id: int, operation: str) -> str:
    """The key sent with every attempt of one operation: derived from the booking and the operation."""
    return f"mh-booking-{booking_id}-{operation}"


# ---------------------------------------------------------------- reading


def payment_for(booking_id: int) -> Payment | None:
    """The booking's current payment (the latest; earlier ones failed)."""
    return db.session.scalar(select(Payment).where(Payment.booking_id == booking_id).order_by(Payment.id.desc()).limit(1))


def learner_payments(learner_id: int, limit: int = 100) -> list[Payment]:
    """The learner's payments (their receipts), newest first."""
    return list(db.session.scalars(select(Payment).join(Booking, Booking.id == Payment.booking_id)
                                   .where(Booking.learner_id == learner_id).order_by(Payment.id.desc()).limit(limit)))


def checkout_of(payment: Payment) -> PaymentCheckout:
    return db.session.get(PaymentCheckout, payment.id)


def payment_by_order(order_ref: str) -> Payment | None:
    checkout = db.session.scalar(select(PaymentCheckout).where(PaymentCheckout.order_ref == order_ref))
    return None if checkout is None else _locked_payment(checkout.payment_id)


def _locked_payment(payment_id: int) -> Payment | None:
    return db.session.scalar(select(Payment).where(Payment.id == payment_id).with_for_update()
                             .execution_options(populate_existing=True))


def _locked_booking(booking_id: int) -> Booking:
    return db.session.scalar(select(Booking).where(Booking.id == booking_id).with_for_update()
                             .execution_options(populate_existing=True))


def refunded_minor(payment: Payment, include_pending: bool = False) -> int:
    statuses = ("succeeded", "pending") if include_pending else ("succeeded",)
    return int(db.session.scalar(select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
        Refund.payment_id == payment.id, Refund.status.in_(statuses))) or 0)


def pending_operations(payment_id: int) -> list[PaymentOperation]:
    return list(db.session.scalars(select(PaymentOperation).where(
        PaymentOperation.payment_id == payment_id, PaymentOperation.status == "pending").order_by(PaymentOperation.id)))


def charge_for(booking: Booking, learner: User) -> tuple[int, str]:
    """What the learner pays: the amount fixed when they asked (the price in their currency then), exactly as
    shown on search, profile and booking pages; for an older booking, the price in their currency now."""
    if booking.charge_minor is not None and booking.charge_currency:
        return booking.charge_minor, booking.charge_currency
    return price_in(booking.price_minor, booking.currency, learner.currency)


# ---------------------------------------------------------------- checkout


def start_checkout(booking_id: int, learner: User) -> Payment:
    """The booking's payment with its provider order / intent, created once (a double click gets the same)."""
    booking = db.session.get(Booking, booking_id)
    if booking is None or booking.learner_id != learner.id:
        raise PaymentError(404, "There is no booking with that id.", "booking_id")
    existing = payment_for(booking.id)
    if existing is not None and existing.status != P.FAILED:
        return existing
    if booking.status != S.REQUESTED:
        raise PaymentError(409, "This booking is not waiting for a payment.", "status")
    amount, currency = charge_for(booking, learner)
    name = name_for_currency(currency)
    attempts = db.session.scalar(select(func.count(Payment.id)).where(Payment.booking_id == booking.id)) or 0
    key = idempotency_key(booking.id, f"create-{attempts + 1}")
    try:
        start = gateway(name).create_checkout(amount_minor=amount, currency=currency, booking_id=booking.id,
                                              payment_ref=key, idempotency_key=key,
                                              description=f"MentorHub session #{booking.id}")
    except GatewayError as error:
        logger.warning("checkout for booking %s failed: %s", booking.id, error)
        raise PaymentError(502, "The payment provider did not answer; please try again in a moment.", "payment") from None
    fee_bp = config.platform_fee_basis_points()
    try:
        with serialised_write():
            booking = _locked_booking(booking.id)
            existing = payment_for(booking.id)
            if existing is not None and existing.status != P.FAILED:
                return existing
            payment = Payment(booking_id=booking.id, gateway=name, provider_ref=start.order_ref, status=P.CREATED,
                              amount_minor=amount, captured_minor=0, platform_fee_minor=0, currency=currency)
            db.session.add(payment)
            db.session.flush()
            db.session.add(PaymentCheckout(payment_id=payment.id, order_ref=start.order_ref, provider_status="created",
                                           list_price_minor=booking.price_minor, list_currency=booking.currency,
                                           fee_basis_points=fee_bp))
    except IntegrityError:  # a concurrent request stored the same order first
        found = payment_for(booking_id)
        if found is None:
            raise
        return found
    return payment


# ---------------------------------------------------------------- what providers tell us (inside a write)


def record_authorization(payment: Payment, charge_ref: str | None, amount_minor: int, currency: str,
                         at: datetime) -> bool:
    """The provider holds the learner's money: the request becomes payable; a booking that ended meanwhile
    gets its hold released. Returns False when nothing changed (repeated, late or mismatching news)."""
    checkout = checkout_of(payment)
    if checkout.provider_status == "created":
        checkout.provider_status = AUTHORIZED
    if charge_ref and not checkout.charge_ref:
        checkout.charge_ref = charge_ref
    if payment.status != P.CREATED:
        return False
    if amount_minor != payment.amount_minor or currency.upper() != payment.currency.upper():
        logger.error("payment %s: provider authorised %s %s, expected %s %s", payment.id, amount_minor, currency,
                     payment.amount_minor, payment.currency)
        return False
    payment.status = P.AUTHORIZED
    checkout.authorized_at = at
    booking = _locked_booking(payment.booking_id)
    if booking.status in ENDED:
        _add_operation(payment, booking, "release", 0)
    elif booking.status == S.REQUESTED:
        _notify_paid_request(booking, payment)
    return True


def record_checkout_authorization(payment_id: int, charge_ref: str) -> Payment:
    """A signed checkout callback for our own order: the provider holds the payment's amount (one transaction)."""
    with serialised_write():
        payment = _locked_payment(payment_id)
        record_authorization(payment, charge_ref, payment.amount_minor, payment.currency, now_utc())
    return payment


def record_capture_seen(payment: Payment, captured_minor: int, at: datetime) -> bool:
    """The provider says the payment is captured (our capture call's answer may have been lost)."""
    if RANK[payment.status] >= RANK[P.CAPTURED]:
        return False
    if payment.status == P.CREATED:
        record_authorization(payment, None, payment.amount_minor, payment.currency, at)
    booking = _locked_booking(payment.booking_id)
    op = _operation(idempotency_key(booking.id, "capture"))
    if op is None:  # captured outside MentorHub: book it as our own capture
        op = _add_operation(payment, booking, "capture", captured_minor or payment.amount_minor, run=False)
    if op.status == "pending":
        _succeed(op, op.provider_ref or payment.provider_ref, at)
        return True
    return False


def record_release_seen(payment: Payment, at: datetime) -> bool:
    if payment.status not in (P.CREATED, P.AUTHORIZED):
        return False
    booking = _locked_booking(payment.booking_id)
    op = _operation(idempotency_key(booking.id, "release"))
    if op is not None and op.status == "pending":
        _succeed(op, payment.provider_ref, at)
    else:  # the hold lapsed at the provider
        payment.status = P.RELEASED
        checkout_of(payment).provider_status = RELEASED
    return True


def record_refund_seen(key: str | None, provider_ref: str | None, at: datetime) -> bool:
    """A refund the provider made: completes our pending refund whose answer was lost."""
    op = _operation(key) if key else None
    if op is None and provider_ref:
        op = db.session.scalar(select(PaymentOperation).where(PaymentOperation.provider_ref == provider_ref))
    if op is None or op.kind != "refund" or op.status != "pending":
        return False
    _locked_payment(op.payment_id)
    _succeed(op, provider_ref or op.provider_ref, at)
    return True


def apply_provider_state(payment: Payment, state, at: datetime) -> bool:
    """Bring our books up to what a (verified, server-to-server) fetch from the provider says."""
    changed = False
    if state.status in (AUTHORIZED, CAPTURED):
        changed |= record_authorization(payment, state.charge_ref, state.amount_minor, state.currency, at)
    if state.status == CAPTURED:
        changed |= record_capture_seen(payment, state.captured_minor, at)
    if state.status == RELEASED:
        changed |= record_release_seen(payment, at)
    return changed


def _notify_paid_request(booking: Booking, payment: Payment) -> None:
    mentor, learner = user_by_id(booking.mentor_id), user_by_id(booking.learner_id)
    notices.notify(mentor, "booking.requested", f"New session request from {learner.full_name}",
                   f"{learner.full_name} asks for {format_when(booking.starts_at, booking.ends_at, mentor.timezone)} "
                   f"and has paid ({format_money(payment.amount_minor, payment.currency)}, held until you answer). "
                   f"Please accept or reject it before {format_when(booking.respond_by, None, mentor.timezone)}."
                   + (f"\nTheir note: {booking.note}" if booking.note else ""), booking.id, booking_link(booking.id))


# ---------------------------------------------------------------- booking transitions decide, operations act


@on_transition
def on_booking_transition(change: BookingTransition) -> None:
    """Inside the booking's transaction: refuse an unpaid accept; record capture, release or refund to make."""
    payment = payment_for(change.booking.id)
    if payment is None and not payment_first():
        return
    if payment is not None:
        payment = _locked_payment(payment.id)
    if change.to_status == S.ACCEPTED:
        _on_accept(change.booking, payment)
    elif payment is None:
        return
    elif change.to_status == S.COMPLETED:
        _maybe_settle(payment, change.at)
    elif change.to_status in ENDED and change.terms is not None:
        _on_ending(change, payment)
        _maybe_settle(payment, change.at)


def _on_accept(booking: Booking, payment: Payment | None) -> None:
    """A mentor accepts only a verified payment; the held amount is then captured."""
    if payment is None or payment.status in (P.CREATED, P.FAILED, P.RELEASED):
        raise BookingError(409, "The learner's payment has not been verified yet; you can accept once it has.",
                           "payment")
    if payment.status == P.AUTHORIZED:
        _add_operation(payment, booking, "capture", payment.amount_minor)


def _on_ending(change: BookingTransition, payment: Payment) -> None:
    """A booking ended: the learner gets back the share its terms give, from the hold or from the capture."""
    percent = max(0, min(100, change.terms.refund_percent))
    captured = _captured_or_capturing(payment, change.booking)
    if payment.status in (P.CREATED, P.AUTHORIZED) and not captured:
        _end_hold(payment, change, percent)
    elif captured:
        refundable = captured - refunded_minor(payment, include_pending=True)
        _add_refund(payment, change, min(refundable, percent_of(captured, percent * 100)))


def _captured_or_capturing(payment: Payment, booking: Booking) -> int:
    """The amount captured, or being captured by a pending operation (0: none)."""
    if payment.captured_minor:
        return payment.captured_minor
    capture = _operation(idempotency_key(booking.id, "capture"))
    return capture.amount_minor if capture and capture.status == "pending" else 0


def _end_hold(payment: Payment, change: BookingTransition, percent: int) -> None:
    """A hold never captured: release all of it, or capture it and refund the learner's share."""
    if percent >= 100 or payment.status == P.CREATED:
        _add_operation(payment, change.booking, "release", 0)
        return
    _add_operation(payment, change.booking, "capture", payment.amount_minor)
    _add_refund(payment, change, percent_of(payment.amount_minor, percent * 100))


def _add_refund(payment: Payment, change: BookingTransition, amount: int) -> None:
    if amount > 0:
        _add_operation(payment, change.booking, "refund", amount, reason=change.terms.explanation,
                       suffix=change.to_status.value)


def _operation(key: str) -> PaymentOperation | None:
    return db.session.scalar(select(PaymentOperation).where(PaymentOperation.idempotency_key == key)
                             .execution_options(populate_existing=True))


def _add_operation(payment: Payment, booking: Booking, kind: str, amount: int, reason: str = "",
                   suffix: str = "", run: bool = True) -> PaymentOperation:
    """Record an operation to make (once per key) and run it once the transaction commits."""
    key = idempotency_key(booking.id, f"{kind}-{suffix}" if suffix else kind)
    op = _operation(key)
    if op is not None:
        return op
    refund_id = None
    if kind == "refund":
        refund = Refund(payment_id=payment.id, amount_minor=amount, currency=payment.currency,
                        reason=(reason or "Refund")[:200], idempotency_key=key, status="pending")
        db.session.add(refund)
        db.session.flush()
        refund_id = refund.id
    op = PaymentOperation(payment_id=payment.id, kind=kind, amount_minor=amount, currency=payment.currency,
                          idempotency_key=key, status="pending", attempts=0, refund_id=refund_id)
    db.session.add(op)
    db.session.flush()
    if run:
        _run_after_commit(payment.id)
    return op


def _run_after_commit(payment_id: int) -> None:
    staged = db.session.info.setdefault(_RUN_AFTER_COMMIT, set())
    if payment_id in staged:
        return
    staged.add(payment_id)

    def _run() -> None:
        db.session.info.get(_RUN_AFTER_COMMIT, set()).discard(payment_id)
        run_pending(payment_id)

    after_commit(_run)


def run_pending(payment_id: int) -> list[str]:
    """Run a payment's pending operations in order; stop at the first that does not succeed."""
    results = []
    for op in pending_operations(payment_id):
        result = run_operation(op.id)
        results.append(result)
        if result != "succeeded":
            break
    return results


def run_operation(op_id: int) -> str:
    """One attempt at an operation: the provider call (same idempotency key every time), then its effect."""
    op = db.session.get(PaymentOperation, op_id, populate_existing=True)
    if op is None or op.status != "pending":
        return op.status if op else "missing"
    payment = db.session.get(Payment, op.payment_id)
    checkout = checkout_of(payment)
    provider = gateway(payment.gateway)
    try:
        if op.kind == "capture":
            ref = provider.capture(checkout.order_ref, checkout.charge_ref, op.amount_minor, op.currency,
                                   op.idempotency_key)
        elif op.kind == "release":
            ref = provider.release(checkout.order_ref, checkout.charge_ref, op.idempotency_key)
        else:
            ref = provider.refund(checkout.order_ref, checkout.charge_ref, op.amount_minor, op.currency,
                                  op.idempotency_key)
    except GatewayError as error:
        logger.warning("payment operation %s (%s) failed: %s", op.idempotency_key, op.kind, error)
        return _record_failure(op_id, str(error), error.final)
    with serialised_write():
        op = db.session.scalar(select(PaymentOperation).where(PaymentOperation.id == op_id).with_for_update()
                               .execution_options(populate_existing=True))
        if op.status != "pending":
            return op.status
        _locked_payment(op.payment_id)
        record_operation_success(op, ref, now_utc())
    return "succeeded"


def _record_failure(op_id: int, message: str, final: bool) -> str:
    with serialised_write():
        op = db.session.scalar(select(PaymentOperation).where(PaymentOperation.id == op_id).with_for_update()
                               .execution_options(populate_existing=True))
        if op.status != "pending":
            return op.status
        op.attempts += 1
        op.last_error = message[:1000]
        if final:
            op.status = "failed"
            if op.refund_id:
                db.session.get(Refund, op.refund_id).status = "failed"
        return op.status


def record_operation_success(op: PaymentOperation, provider_ref: str | None, at: datetime) -> None:
    """The provider did it: book the effect (a separate name so tests can inject a crash right here)."""
    _succeed(op, provider_ref, at)


def _succeed(op: PaymentOperation, provider_ref: str | None, at: datetime) -> None:
    payment = db.session.get(Payment, op.payment_id)
    checkout = checkout_of(payment)
    op.status, op.provider_ref = "succeeded", provider_ref
    op.attempts += 1
    if op.kind == "capture" and RANK[payment.status] < RANK[P.CAPTURED]:
        fee = percent_of(op.amount_minor, checkout.fee_basis_points)
        payment.status, payment.captured_minor, payment.platform_fee_minor = P.CAPTURED, op.amount_minor, fee
        checkout.captured_at, checkout.provider_status = at, CAPTURED
        ledger.book_capture(payment, op.amount_minor, fee, op.idempotency_key, at)
    elif op.kind == "release" and payment.status in (P.CREATED, P.AUTHORIZED):
        payment.status = P.RELEASED
        checkout.provider_status = RELEASED
    elif op.kind == "refund":
        refund = db.session.get(Refund, op.refund_id)
        refund.status, refund.provider_ref = "succeeded", provider_ref
        db.session.flush()
        total = refunded_minor(payment)
        remaining = max(0, payment.captured_minor - total)
        fee_after = percent_of(remaining, checkout.fee_basis_points)
        payment.platform_fee_minor = fee_after
        payment.status = P.REFUNDED if remaining == 0 else P.PARTIALLY_REFUNDED
        ledger.book_refund(payment, op.amount_minor, fee_after, op.idempotency_key, at)
    db.session.flush()
    _maybe_settle(payment, at)


def _maybe_settle(payment: Payment, at: datetime) -> None:
    """Once the session is over and no money is still moving, the mentor's pending earning becomes available."""
    checkout = checkout_of(payment)
    if checkout is None or checkout.settled_at is not None:
        return
    booking = db.session.get(Booking, payment.booking_id)
    if booking.status not in ENDED or payment.status not in (P.CAPTURED, P.PARTIALLY_REFUNDED, P.REFUNDED, P.RELEASED):
        return
    if pending_operations(payment.id):
        return
    db.session.flush()
    ledger.book_settlement(payment, at)
    checkout.settled_at = at


# ---------------------------------------------------------------- verified confirmations


def confirm_from_provider(payment_id: int) -> Payment:
    """Ask the provider (server to server) where the payment stands, and book what it says."""
    payment = db.session.get(Payment, payment_id)
    checkout = checkout_of(payment)
    try:
        state = gateway(payment.gateway).fetch(checkout.order_ref, checkout.charge_ref)
    except GatewayError as error:
        raise PaymentError(502, f"The payment provider did not answer: {error}", "payment") from None
    with serialised_write():
        payment = _locked_payment(payment_id)
        apply_provider_state(payment, state, now_utc())
    return payment


def sandbox_pay(payment_id: int, card_number: str) -> tuple[bool, str]:
    """The sandbox's own checkout: its "provider" authorises (its record commits first), then our books follow
    through the same verified path a real provider's confirmation takes."""
    payment = db.session.get(Payment, payment_id)
    if payment is None or payment.gateway != "sandbox":
        raise PaymentError(404, "There is no sandbox payment with that id.", "payment_id")
    digits = "".join(ch for ch in card_number if ch.isdigit())
    if len(digits) < 12:
        return False, "Enter a test card number, such as 4242 4242 4242 4242."
    if digits in SandboxGateway.DECLINED_CARDS:
        return False, "The sandbox declined this test card (4000 0000 0000 0002 always declines)."
    with serialised_write():  # the sandbox provider's record
        checkout = db.session.scalar(select(PaymentCheckout).where(PaymentCheckout.payment_id == payment_id)
                                     .with_for_update().execution_options(populate_existing=True))
        if checkout.provider_status == "created":
            checkout.provider_status = AUTHORIZED
            checkout.charge_ref = checkout.charge_ref or f"sbx_ch_{payment_id}_{digits[-4:]}"
    confirm_from_provider(payment_id)
    return True, "Payment held"
