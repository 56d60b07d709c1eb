"""Appending interactions to the `events` table, the ML pipelines' source."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from api.extensions import db
from api.tables import Event, EventType, utcnow


def log_event(
    event_type: EventType,
    *,
    user_id: int | None = None,
    mentor_id: int | None = None,
    booking_id: int | None = None,
    exposure_id: int | None = None,
    model_version: str | None = None,
    arm: str | None = None,
    occurred_at: datetime | None = None,
    **payload: Any,
) -> Event:
    """Add one event to the current transaction; the caller commits it with the change it records."""
    event = Event(
        event_type=event_type,
        user_id=user_id,
        mentor_id=mentor_id,
        booking_id=booking_id,
        exposure_id=exposure_id,
        model_version=model_version,
        arm=arm,
        occurred_at=occurred_at or utcnow(),
        payload=payload,
    )
    db.session.add(event)
    return event
