"""Payments beyond the booking's Payment row: the provider checkout, outgoing operations, the ledger."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.extensions import db
from api.tables.types import UTCDateTime, utcnow


class PaymentCheckout(db.Model):
    """What the provider knows about one Payment: its order / intent, the charge, the last state seen."""

    __tablename__ = "payment_checkouts"

    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"), primary_key=True)
    order_ref: Mapped[str] = mapped_column(String(255), unique=True)  # Stripe PaymentIntent / Razorpay order / sandbox id
    charge_ref: Mapped[str | None] = mapped_column(String(255), unique=True)  # Razorpay payment id (pay_...)
    provider_status: Mapped[str] = mapped_column(String(32), default="created")  # as the provider last said
    list_price_minor: Mapped[int] = mapped_column(Integer)  # the booking's price, in the booking's currency
    list_currency: Mapped[str] = mapped_column(String(3))
    fee_basis_points: Mapped[int] = mapped_column(Integer)  # the platform fee when the learner paid (1500 = 15 %)
    authorized_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    captured_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # mentor's earning moved to available
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class PaymentOperation(db.Model):
    """An outgoing call (capture, release, refund) decided inside a booking transition, run after its commit.

    The idempotency key (booking + operation) goes to the provider with every attempt, so a retry after a
    lost response never charges or refunds twice; `status` moves pending -> succeeded | failed once.
    """

    __tablename__ = "payment_operations"
    __table_args__ = (
        CheckConstraint("amount_minor >= 0", name="ck_payment_operation_amount"),
        Index("ix_payment_operations_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # capture | release | refund
    amount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | succeeded | failed
    provider_ref: Mapped[str | None] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class LedgerEntry(db.Model):
    """One signed movement on an account, in integer minor units; entries are never updated.

    Accounts: learner_payments (captured), refunds, platform_fees, mentor_pending, mentor_available,
    mentor_paid_out. `entry_key` is unique, so replaying an effect never books it twice.
    """

    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index("ix_ledger_account_created", "account", "created_at"),
        Index("ix_ledger_mentor_account", "mentor_id", "account"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_key: Mapped[str] = mapped_column(String(160), unique=True)
    account: Mapped[str] = mapped_column(String(32))
    amount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id", ondelete="RESTRICT"), index=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id", ondelete="RESTRICT"))
    mentor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    memo: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
