"""Reconciliation: find payments stuck between states and settle them (safe to run at any time, repeatedly).

1. Payments still `created` while the provider holds the money (a crash after the charge, before our
   books were updated; a lost webhook): ask the provider and book what it says.
2. Operations (capture, release, refund) still pending (a crash or a lost answer after the decision):
   run them again with the same idempotency key.
3. Requests never paid within `payments_unpaid_request_minutes`: cancel them, which frees the slot.
4. Captured payments without ledger entries (rows written by the demo seeder or before payments
   existed): book them; ended bookings whose mentor earning is still pending: settle.

The click command `reconcile_command` (`mentorhub payments reconcile`) runs in the app its caller passes as the
click context object.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

import click
from flask import Flask
from sqlalchemy import exists, select

from api.bookings import service as bookings
from api.bookings.service import BookingError, now_utc
from api.bookings.transaction import serialised_write
from api.extensions import db
from api.payments import ledger, service
from api.payments.config import platform_fee_basis_points
from api.payments.gateways import GatewayError, gateway
from api.money import percent_of
from api.settings import current_settings
from api.tables import (Booking, BookingStatus, LedgerEntry, Payment, PaymentCheckout, PaymentOperation,
                        PaymentStatus, Refund)

logger = logging.getLogger(__name__)
P, S = PaymentStatus, BookingStatus


def sync_unverified(now: datetime, min_age: timedelta) -> int:
    """Step 1: payments we still think are `created`: the provider may have taken the money."""
    fixed = 0
    ids = list(db.session.scalars(select(Payment.id).where(Payment.status == P.CREATED,
                                                           Payment.created_at <= now - min_age)))
    for payment_id in ids:
        payment = db.session.get(Payment, payment_id)
        checkout = service.checkout_of(payment)
        if checkout is None:
            continue
        try:
            state = gateway(payment.gateway).fetch(checkout.order_ref, checkout.charge_ref)
        except GatewayError as error:
            logger.warning("reconcile: cannot fetch payment %s: %s", payment_id, error)
            continue
        with serialised_write():
            locked = service._locked_payment(payment_id)
            if service.apply_provider_state(locked, state, now):
                fixed += 1
        service.run_pending(payment_id)
    return fixed


def retry_operations(now: datetime, min_age: timedelta) -> int:
    done = 0
    payment_ids = list(db.session.scalars(select(PaymentOperation.payment_id).where(
        PaymentOperation.status == "pending", PaymentOperation.updated_at <= now - min_age).distinct()))
    for payment_id in payment_ids:
        done += service.run_pending(payment_id).count("succeeded")
    return done


def cancel_unpaid(now: datetime, unpaid_minutes: int | None = None) -> int:
    """Requests whose payment was never verified in time are cancelled (the slot frees, any hold is released)."""
    minutes = current_settings().payments_unpaid_request_minutes if unpaid_minutes is None else unpaid_minutes
    cutoff = now - timedelta(minutes=minutes)  # created_at is written with the same (one) clock
    paid = exists().where(Payment.booking_id == Booking.id,
                          Payment.status.notin_([P.CREATED, P.FAILED, P.RELEASED]))
    ids = list(db.session.scalars(select(Booking.id).where(Booking.status == S.REQUESTED, Booking.created_at <= cutoff,
                                                           ~paid)))
    cancelled = 0
    for booking_id in ids:
        booking = db.session.get(Booking, booking_id)
        try:
            bookings.cancel(booking_id, bookings.user_by_id(booking.learner_id),
                            "The payment was not completed in time.", now)
            cancelled += 1
        except BookingError:
            continue
    return cancelled


def book_missing_ledger(now: datetime) -> int:
    """Captured payments with no ledger entry (seeded or pre-payments rows): book capture, refunds, settlement."""
    booked = 0
    has_entries = exists().where(LedgerEntry.payment_id == Payment.id)
    ids = list(db.session.scalars(select(Payment.id).where(
        Payment.status.in_([P.CAPTURED, P.PARTIALLY_REFUNDED, P.REFUNDED]), ~has_entries)))
    for payment_id in ids:
        with serialised_write():
            payment = service._locked_payment(payment_id)
            if db.session.scalar(select(LedgerEntry.id).where(LedgerEntry.payment_id == payment_id).limit(1)):
                continue
            checkout = service.checkout_of(payment)
            bps = checkout.fee_basis_points if checkout else platform_fee_basis_points()
            at = payment.created_at
            ledger.book_capture(payment, payment.captured_minor, percent_of(payment.captured_minor, bps),
                                f"backfill-{payment_id}-capture", at)
            refunded = 0
            for refund in db.session.scalars(select(Refund).where(Refund.payment_id == payment_id,
                                                                  Refund.status == "succeeded").order_by(Refund.id)):
                refunded += refund.amount_minor
                ledger.book_refund(payment, refund.amount_minor,
                                   percent_of(max(0, payment.captured_minor - refunded), bps),
                                   f"backfill-{payment_id}-refund-{refund.id}", refund.created_at)
            if db.session.get(Booking, payment.booking_id).status in service.ENDED:
                ledger.book_settlement(payment, now)
                if checkout:
                    checkout.settled_at = now
            booked += 1
    return booked


def settle_ended(now: datetime) -> int:
    ids = list(db.session.scalars(
        select(PaymentCheckout.payment_id).join(Payment, Payment.id == PaymentCheckout.payment_id)
        .join(Booking, Booking.id == Payment.booking_id)
        .where(PaymentCheckout.settled_at.is_(None), Booking.status.in_(list(service.ENDED)))))
    settled = 0
    for payment_id in ids:
        with serialised_write():
            payment = service._locked_payment(payment_id)
            service._maybe_settle(payment, now)
            settled += service.checkout_of(payment).settled_at is not None
    return settled


def reconcile(now: datetime | None = None, min_age_seconds: int | None = None,
              unpaid_minutes: int | None = None) -> dict[str, int]:
    """Every step once; returns how many payments or bookings each repaired (`now`: the product's one clock, which
    also stamped the rows whose ages are measured)."""
    now = now or now_utc()
    min_age = timedelta(seconds=current_settings().payments_stuck_operation_seconds if min_age_seconds is None
                        else min_age_seconds)
    return {
        "verified": sync_unverified(now, min_age),
        "operations": retry_operations(now, min_age),
        "unpaid_cancelled": cancel_unpaid(now, unpaid_minutes),
        "ledger_backfilled": book_missing_ledger(now),
        "settled": settle_ended(now),
    }


@click.command("reconcile")
@click.option("--min-age", "min_age_seconds", type=int, default=None,
              help="Only touch payments and operations idle this many seconds (default: the setting).")
@click.pass_obj
def reconcile_command(app: Flask, min_age_seconds: int | None) -> None:
    """Repair payments stuck between states (run every few minutes, e.g. beside `mentorhub run-jobs`)."""
    with app.app_context():
        counts = reconcile(min_age_seconds=min_age_seconds)
    click.echo(reconcile_summary(counts))


LABELS = {"verified": "payments verified with the provider", "operations": "pending operations completed",
          "unpaid_cancelled": "unpaid requests cancelled", "ledger_backfilled": "ledger entries backfilled",
          "settled": "mentor earnings settled"}


def reconcile_summary(counts: dict[str, int]) -> str:
    """One line: what reconciliation repaired, in words."""
    done = [f"{value:,} {LABELS.get(key, key)}" for key, value in counts.items() if value]
    return "Payments: reconciled: " + (", ".join(done) if done else "nothing to repair") + "."
