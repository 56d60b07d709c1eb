"""The append-only log of every interaction that the ML pipelines read."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Enum, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from api.extensions import db
from api.tables.types import UTCDateTime, utcnow


class EventType(str, enum.Enum):
    SEARCH = "search"
    PROFILE_VIEW = "profile_view"
    EXPOSURE = "exposure"
    CLICK = "click"
    BOOKING_REQUEST = "booking_request"
    BOOKING_OUTCOME = "booking_outcome"
    RATING = "rating"
    PROFILE_UPDATE = "profile_update"
    MESSAGE_SENT = "message_sent"


class Event(db.Model):
    """One interaction. Rows are never updated or deleted (enforced by database triggers)."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_occurred_at_id", "occurred_at", "id"),
        Index("ix_events_user_type", "user_id", "event_type"),
        Index("ix_events_mentor_type", "mentor_id", "event_type"),
        {"sqlite_autoincrement": True},  # ids are reserved in blocks from its sequence (api.recommendations.exposures)
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    event_type: Mapped[EventType] = mapped_column(
        Enum(EventType, name="event_type", values_callable=lambda e: [m.value for m in e])
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    mentor_id: Mapped[int | None] = mapped_column(Integer)
    booking_id: Mapped[int | None] = mapped_column(Integer)
    exposure_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    model_version: Mapped[str | None] = mapped_column(String(64))
    arm: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
