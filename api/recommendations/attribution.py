"""Attribution: a booking request that follows a recommendation carries that exposure's id, version and arm.

A `before_flush` hook of the app (`install_hooks`, which create_app wires): when a BOOKING_REQUEST event
is about to be inserted without an exposure_id, the learner's latest click on that mentor (within the
attribution window) names the exposure; failing that, the latest exposure that showed the mentor. Only the
new row is filled in before its INSERT; events are never updated. Exposures still queued in the background
writer (`exposures`) count too: they are looked up in its queue, never waited for (waiting inside a flush
could deadlock on SQLite's write lock).
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from flask import has_app_context

from models import clock
from api import hooks
from api.recommendations import exposures
from api.settings import current_settings
from api.tables import Event, EventType

logger = logging.getLogger(__name__)
UTC = timezone.utc
HOOK = "recommendations.attribution"
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
    since = _window_start(at or clock.now())
    writer = exposures.existing_writer(session.get_bind())
    # one round trip (ix_events_user_type) for both candidates: the learner's last click on the mentor and their
    # last SCAN_EXPOSURES exposures; a learner without recent clicks or exposures (most requests) costs just this
    rows = session.execute(_candidates_query(), {"learner_id": learner_id, "mentor_id": mentor_id,
                                                 "since": since}).all()
    return (_clicked(session, writer, rows)
            or _queued_showing(writer, learner_id, mentor_id, since)
            or _stored_showing(session, rows, mentor_id))


def _window_start(at: datetime) -> datetime:
    """The earliest exposure an action at `at` can be attributed to (the attribution window before it)."""
    days = current_settings().serving_attribution_days if has_app_context() else 7
    return (at if at.tzinfo else at.replace(tzinfo=UTC)) - timedelta(days=days)


def _clicked(session, writer, rows):
    """The exposure of the learner's last click on the mentor (queued or stored), or None."""
    click = next((row.exposure_id for row in rows if row.event_type == EventType.CLICK), None)
    if click is None:
        return None
    queued = writer.queued(click) if writer is not None else None
    return queued if queued is not None else session.get(Event, click)


def _shows(payload: dict | None, mentor_id: int) -> bool:
    return mentor_id in ((payload or {}).get("mentor_ids") or [])


def _queued_showing(writer, learner_id: int, mentor_id: int, since: datetime):
    """The learner's newest exposure still in the writer's queue that showed the mentor, or None."""
    if writer is None:
        return None
    return next((queued for queued in writer.queued_for(learner_id)
                 if queued.occurred_at >= since and _shows(queued.payload, mentor_id)), None)


def _stored_showing(session, rows, mentor_id: int):
    """The newest stored exposure among the candidate rows that showed the mentor, or None."""
    shown = sorted((row for row in rows if row.event_type == EventType.EXPOSURE), key=lambda row: row.id, reverse=True)
    row = next((row for row in shown if _shows(row.payload, mentor_id)), None)
    return None if row is None else session.get(Event, row.id)


def _before_flush(session, flush_context, instances) -> None:
    if not hooks.active(HOOK):
        return
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


def install_hooks(app) -> None:
    """Attribute every booking request that `app` inserts (before its flush) to the exposure it follows."""
    hooks.install(app, HOOK, {"before_flush": _before_flush})
