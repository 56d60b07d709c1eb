"""Attribution: a booking request that follows a recommendation carries that exposure's id, version and arm.

Installed once per process as a `before_flush` listener: when a BOOKING_REQUEST event is about to be
inserted without an exposure_id, the learner's latest click on that mentor (within the attribution
window) names the exposure; failing that, the latest exposure that showed the mentor. Only the new row
is filled in before its INSERT; events are never updated. Exposures still queued in the background
writer (`exposures`) count too: they are looked up in its queue, never waited for (waiting inside a
flush could deadlock on SQLite's write lock).
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from flask import current_app, has_app_context

from models import clock
from api.recommendations import exposures
from api.tables import Event, EventType

logger = logging.getLogger(__name__)
UTC = timezone.utc
_installed = False
SCAN_EXPOSURES = 200
_candidates = None


def _candidates_query():
    """The learner's last click on the mentor and their last SCAN_EXPOSURES exposures, in one statement
    (ix_events_user_type); built once, the values are bound parameters."""
    global _candidates
    if _candidates is None:
        columns = (Event.id, Event.event_type, Event.exposure_id, Event.payload)
        learner, since = sa.bindparam("learner_id"), sa.bindparam("since")
        clicks = (sa.select(*columns)
                  .where(Event.user_id == learner, Event.event_type == EventType.CLICK,
                         Event.mentor_id == sa.bindparam("mentor_id"), Event.exposure_id.is_not(None),
                         Event.occurred_at >= since)
                  .order_by(Event.id.desc()).limit(1).subquery())
        shown = (sa.select(*columns)
                 .where(Event.user_id == learner, Event.event_type == EventType.EXPOSURE, Event.occurred_at >= since)
                 .order_by(Event.id.desc()).limit(SCAN_EXPOSURES).subquery())
        _candidates = sa.union_all(sa.select(shown), sa.select(clicks))
    return _candidates


def find_exposure(session, learner_id: int, mentor_id: int, at: datetime | None = None):
    """The exposure a learner's action on a mentor follows: their last click on it, else the last exposure showing it.

    An `Event`, or a `QueuedExposure` when it is still in the background writer's queue; None if none.
    """
    days = current_app.config["MENTORHUB_SETTINGS"].serving_attribution_days if has_app_context() else 7
    at = at or clock.now()
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    since = at - timedelta(days=days)
    writer = exposures.existing_writer(session.get_bind())
    # one round trip (ix_events_user_type) for both candidates: the learner's last click on the mentor and their
    # last SCAN_EXPOSURES exposures; a learner without recent clicks or exposures (most requests) costs just this
    rows = session.execute(_candidates_query(), {"learner_id": learner_id, "mentor_id": mentor_id,
                                                 "since": since}).all()
    click = next((row.exposure_id for row in rows if row.event_type == EventType.CLICK), None)
    if click is not None:
        queued = writer.queued(click) if writer is not None else None
        if queued is not None:
            return queued
        found = session.get(Event, click)
        if found is not None:
            return found
    if writer is not None:  # the newest exposures may still be queued: they come first
        for queued in writer.queued_for(learner_id):
            if queued.occurred_at >= since and mentor_id in (queued.payload.get("mentor_ids") or []):
                return queued
    shown_rows = sorted((row for row in rows if row.event_type == EventType.EXPOSURE), key=lambda row: row.id,
                        reverse=True)
    for row in shown_rows:
        if mentor_id in ((row.payload or {}).get("mentor_ids") or []):
            return session.get(Event, row.id)
    return None


def _before_flush(session, flush_context, instances) -> None:
    pending = [obj for obj in session.new if isinstance(obj, Event) and obj.exposure_id is None
               and obj.event_type == EventType.BOOKING_REQUEST and obj.user_id and obj.mentor_id]
    if not pending:
        return
    try:
        with session.no_autoflush:
            for event in pending:
                exposure = find_exposure(session, event.user_id, event.mentor_id, event.occurred_at)
                if exposure is not None:
                    event.exposure_id = exposure.id
                    event.model_version = event.model_version or exposure.model_version
                    event.arm = event.arm or exposure.arm
    except Exception:  # noqa: BLE001 - attribution must never stop a booking
        logger.exception("could not attribute a booking request to an exposure")


def install() -> None:
    """Listen on every session of the app's scoped session (once per process)."""
    global _installed
    if _installed:
        return
    from sqlalchemy.orm import Session

    sa.event.listen(Session, "before_flush", _before_flush)
    _installed = True
