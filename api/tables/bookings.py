"""Bookings of a mentor's time by a learner, as a state machine."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.extensions import db
from api.tables.types import UTCDateTime, utcnow


class BookingStatus(str, enum.Enum):
    REQUESTED = "requested"
    ACCEPTED = "accepted"
    COMPLETED = "completed"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED_BY_LEARNER = "cancelled_by_learner"
    CANCELLED_BY_MENTOR = "cancelled_by_mentor"
    NO_SHOW = "no_show"


# A booking in one of these states holds the mentor's time: no other may overlap it.
ACTIVE_BOOKING_STATUSES = (BookingStatus.REQUESTED, BookingStatus.ACCEPTED)


class Booking(db.Model):
    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint("starts_at < ends_at", name="ck_booking_order"),
        CheckConstraint("price_minor >= 0", name="ck_booking_price_nonnegative"),
        Index("ix_bookings_mentor_starts", "mentor_id", "starts_at"),
        Index("ix_bookings_learner_starts", "learner_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    mentor_id: Mapped[int] = mapped_column(ForeignKey("mentor_profiles.user_id", ondelete="RESTRICT"))
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id", ondelete="SET NULL"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[BookingStatus] = mapped_column(
        Enum(BookingStatus, name="booking_status", values_callable=lambda e: [m.value for m in e]),
        default=BookingStatus.REQUESTED,
        index=True,
    )
    note: Mapped[str] = mapped_column(Text, default="")
    status_reason: Mapped[str | None] = mapped_column(Text)
    price_minor: Mapped[int] = mapped_column(Integer)  # the mentor's price, in the mentor's currency
    currency: Mapped[str] = mapped_column(String(3))
    # what the learner is charged: the price in the learner's currency when they asked (money.convert)
    charge_minor: Mapped[int | None] = mapped_column(Integer)
    charge_currency: Mapped[str | None] = mapped_column(String(3))
    video_link: Mapped[str | None] = mapped_column(String(500))
    respond_by: Mapped[datetime | None] = mapped_column(UTCDateTime())  # a request expires unanswered then
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    payments: Mapped[list["Payment"]] = relationship(back_populates="booking", lazy="selectin")


class PaymentStatus(str, enum.Enum):
    CREATED = "created"
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    RELEASED = "released"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"
    FAILED = "failed"


class Payment(db.Model):
    """Money a learner pays for one booking, in integer minor units."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount_minor >= 0", name="ck_payment_amount_nonnegative"),
        CheckConstraint("captured_minor >= 0 and captured_minor <= amount_minor", name="ck_payment_captured"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="RESTRICT"), index=True)
    gateway: Mapped[str] = mapped_column(String(16))  # stripe | razorpay | sandbox
    provider_ref: Mapped[str | None] = mapped_column(String(255), unique=True)
    status: Mapped[PaymentStatus] = mapped_column(
        Enum(PaymentStatus, name="payment_status", values_callable=lambda e: [m.value for m in e]),
        default=PaymentStatus.CREATED,
    )
    amount_minor: Mapped[int] = mapped_column(Integer)
    captured_minor: Mapped[int] = mapped_column(Integer, default=0)
    platform_fee_minor: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    booking: Mapped[Booking] = relationship(back_populates="payments")
    refunds: Mapped[list["Refund"]] = relationship(back_populates="payment", lazy="selectin")


class Refund(db.Model):
    __tablename__ = "refunds"
    __table_args__ = (CheckConstraint("amount_minor > 0", name="ck_refund_amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id", ondelete="RESTRICT"), index=True)
    amount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(200))
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    provider_ref: Mapped[str | None] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | succeeded | failed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    payment: Mapped[Payment] = relationship(back_populates="refunds")


class ProviderEvent(db.Model):
    """An incoming webhook event id, stored in the same transaction as its effect (idempotency)."""

    __tablename__ = "provider_events"
    __table_args__ = (db.UniqueConstraint("gateway", "event_id", name="uq_provider_event"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    gateway: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(255))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Review(db.Model):
    """A learner's rating (1-5) of a completed booking, with an optional text and one mentor reply."""

    __tablename__ = "reviews"
    __table_args__ = (
        CheckConstraint("rating between 1 and 5", name="ck_review_rating"),
        Index("ix_reviews_mentor_created", "mentor_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"), unique=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    mentor_id: Mapped[int] = mapped_column(ForeignKey("mentor_profiles.user_id", ondelete="CASCADE"), index=True)
    rating: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text, default="")
    mentor_reply: Mapped[str | None] = mapped_column(Text)
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    hidden: Mapped[bool] = mapped_column(default=False)  # hidden by an admin: not shown, not in the aggregate
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    hidden_by: Mapped[int | None] = mapped_column(Integer)  # the admin's user id
    reported_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class LearnerRating(db.Model):
    """A mentor's private rating of a learner after a completed booking."""

    __tablename__ = "learner_ratings"
    __table_args__ = (CheckConstraint("rating between 1 and 5", name="ck_learner_rating"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"), unique=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    rating: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="", server_default="")  # private to mentors
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
