"""Exposure events written off the request path: real ids handed out at once, rows inserted in batches.

A recommendation response must carry the id of its exposure event (clicks and bookings are attributed
to it), but it must not wait for an INSERT and a commit. So the id is allocated up front and the row is
queued; a background thread inserts whatever is queued in one transaction every few milliseconds.

Ids:
- PostgreSQL: blocks of `nextval` from the events id sequence (one round trip per block, no commit);
  every other writer, in any process, draws from the same sequence, so ids never collide.
- SQLite (the embedded, single-process default): a counter seeded from max(id) under a lock, and a
  `before_insert` hook that gives every other Event the process inserts through the ORM its id from
  the same counter. Another process inserting events into the same file could still take an id first:
  the writer then stores that exposure under a fresh id (payload `allocated_id` says which) and logs an
  error, so the event is kept although that response's clicks cannot be attributed. Run one server
  process on SQLite (PostgreSQL at scale).

Nothing is lost in normal operation: a failed batch stays queued and is retried, `flush()` waits
until everything queued so far is committed (the click and booking-attribution paths call it when
they need an exposure that may still be queued), and the queue is flushed at interpreter exit.
"""
from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

logger = logging.getLogger(__name__)
BATCH_INTERVAL_SECONDS = 0.005
SEQUENCE_BLOCK = 64
MAX_BATCH = 2000

_writers: "weakref.WeakKeyDictionary[sa.engine.Engine, ExposureWriter]" = weakref.WeakKeyDictionary()
_writers_lock = threading.Lock()
_hook_installed = False


class ExposureWriter:
    """One per database engine: allocates event ids and inserts queued exposure rows in the background."""

    def __init__(self, engine: sa.engine.Engine, interval: float = BATCH_INTERVAL_SECONDS):
        from api.tables import Event

        self.engine = engine
        self.table = Event.__table__
        self.interval = interval
        self.dialect = engine.dialect.name
        self._lock = threading.Lock()  # ids
        self._cond = threading.Condition()  # queue
        self._queue: list[dict] = []
        self._pending_ids: set[int] = set()
        self._submitted = 0
        self._written = 0
        self._next_id: int | None = None  # SQLite counter
        self._block: list[int] = []  # PostgreSQL pre-fetched ids
        self._sequence: str | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.batches = 0
        self.failures = 0
        self._last_resync = time.monotonic()

    # ------------------------------------------------------------ ids
    def allocate(self) -> int:
        """A new events id that no other insert will take."""
        with self._lock:
            if self.dialect == "postgresql":
                if not self._block:
                    self._block = self._fetch_block()
                return self._block.pop(0)
            if self._next_id is None:
                self._next_id = self._max_id() + 1
            value = self._next_id
            self._next_id += 1
            return value

    def allocate_above(self, floor: int) -> int:
        """SQLite: the next id, and never one at or below `floor` (the table's max id as the caller sees it)."""
        with self._lock:
            if self._next_id is None or self._next_id <= floor:
                self._next_id = floor + 1
            value = self._next_id
            self._next_id += 1
            return value

    def _max_id(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(self.table.c.id))).scalar() or 0)

    def _fetch_block(self) -> list[int]:
        with self.engine.connect() as conn:
            if self._sequence is None:
                self._sequence = conn.execute(sa.text("SELECT pg_get_serial_sequence('events', 'id')")).scalar()
            rows = conn.execute(sa.text("SELECT nextval(CAST(:seq AS regclass)) FROM generate_series(1, :n)"),
                                {"seq": self._sequence, "n": SEQUENCE_BLOCK}).scalars().all()
            conn.commit()
        return sorted(int(r) for r in rows)

    def resync(self) -> None:
        """SQLite: move the counter past rows inserted without it (Core inserts, other processes)."""
        if self.dialect == "postgresql":
            return
        top = self._max_id()
        with self._lock:
            if self._next_id is None or self._next_id <= top:
                self._next_id = top + 1

    # ------------------------------------------------------------ queue
    def submit(self, row: dict) -> int:
        """Queue one events row (its id allocated now); returns the id."""
        row = dict(row)
        if row.get("id") is None:
            row["id"] = self.allocate()
        with self._cond:
            self._queue.append(row)
            self._pending_ids.add(row["id"])
            self._submitted += 1
            self._ensure_thread()
            self._cond.notify()
        return row["id"]

    def is_pending(self, event_id: int) -> bool:
        return event_id in self._pending_ids

    def pending(self) -> int:
        return len(self._queue)

    def queued(self, event_id: int) -> "QueuedExposure | None":
        """The queued (not yet written) row with this id, or None."""
        if event_id not in self._pending_ids:
            return None
        with self._cond:
            for row in self._queue:
                if row["id"] == event_id:
                    return QueuedExposure.of(row)
        return None

    def queued_for(self, user_id: int) -> list["QueuedExposure"]:
        """The user's queued exposures, newest first."""
        with self._cond:
            rows = [row for row in self._queue if row.get("user_id") == user_id]
        return [QueuedExposure.of(row) for row in reversed(rows)]

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued before this call is committed; True when it was."""
        with self._cond:
            target = self._submitted
            if self._written >= target:
                return True
            if self._thread is None or not self._thread.is_alive():
                self._thread = None
                self._ensure_thread()
            self._cond.notify_all()
            deadline = time.monotonic() + timeout
            while self._written < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def _ensure_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="exposure-writer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait(1.0)
                    if self._stopping and not self._queue:
                        return
                batch = self._queue[:MAX_BATCH]
            try:
                self._insert(batch)
            except Exception:  # noqa: BLE001 - keep the rows queued and retry
                self.failures += 1
                logger.exception("could not write %d exposure events; retrying", len(batch))
                time.sleep(min(1.0, 0.05 * self.failures))
                continue
            if time.monotonic() - self._last_resync > 1.0:
                self._last_resync = time.monotonic()
                try:
                    self.resync()
                except Exception:  # noqa: BLE001
                    logger.exception("exposure writer: could not resync the id counter")
            with self._cond:
                del self._queue[:len(batch)]
                self._pending_ids.difference_update(r["id"] for r in batch)
                self._written += len(batch)
                self.batches += 1
                self._cond.notify_all()
            if self.interval:
                time.sleep(self.interval)  # let a batch gather

    def _insert(self, batch: list[dict]) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(self.table.insert(), batch)
        except sa.exc.IntegrityError:
            if self.dialect == "postgresql":
                raise
            self._insert_one_by_one(batch)

    def _insert_one_by_one(self, batch: list[dict]) -> None:
        """SQLite after an id collision: rows whose id was taken meanwhile get a fresh one (never dropped)."""
        self.resync()
        for row in batch:
            try:
                with self.engine.begin() as conn:
                    conn.execute(self.table.insert(), [row])
            except sa.exc.IntegrityError:
                fresh = {**row, "id": self.allocate(),
                         "payload": {**(row.get("payload") or {}), "allocated_id": row["id"]}}
                logger.error("exposure id %s was taken by another writer; stored as %s", row["id"], fresh["id"])
                with self.engine.begin() as conn:
                    conn.execute(self.table.insert(), [fresh])

    def close(self, timeout: float = 10.0) -> None:
        self.flush(timeout)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()


@dataclass(frozen=True)
class QueuedExposure:
    """What attribution needs of an exposure still in the queue (the same fields as the Event row)."""

    id: int
    user_id: int | None
    model_version: str | None
    arm: str | None
    occurred_at: datetime
    payload: dict
    event_type: Any = None

    @classmethod
    def of(cls, row: dict) -> "QueuedExposure":
        when = row["occurred_at"]
        return cls(id=row["id"], user_id=row.get("user_id"), model_version=row.get("model_version"),
                   arm=row.get("arm"), occurred_at=when if when.tzinfo else when.replace(tzinfo=timezone.utc),
                   payload=row.get("payload") or {}, event_type=row.get("event_type"))


# ---------------------------------------------------------------- per engine


def writer_for(engine: sa.engine.Engine) -> ExposureWriter:
    """The engine's writer (made on first use; the SQLite id hook is installed with the first one)."""
    found = _writers.get(engine)
    if found is None:
        with _writers_lock:
            found = _writers.get(engine)
            if found is None:
                found = ExposureWriter(engine)
                _writers[engine] = found
                _install_hook()
    return found


def existing_writer(engine: sa.engine.Engine) -> ExposureWriter | None:
    return _writers.get(engine)


def flush_engine(engine: sa.engine.Engine, timeout: float = 10.0) -> bool:
    """Flush the engine's writer if it has one (cheap when nothing is queued)."""
    found = _writers.get(engine)
    return True if found is None else found.flush(timeout)


def flush_all(timeout: float = 10.0) -> None:
    """Flush every writer (interpreter exit, server shutdown)."""
    for found in list(_writers.values()):
        try:
            if not found.flush(timeout):
                logger.error("exposure writer: %d events still queued at shutdown", found.pending())
        except Exception:  # noqa: BLE001
            logger.exception("exposure writer flush failed at shutdown")


atexit.register(flush_all)


def exposure_row(*, user_id: int, model_version: str | None, arm: str | None, occurred_at: datetime,
                 payload: dict[str, Any]) -> dict:
    """An events row for an exposure (the columns of api.activity.log_event)."""
    from api.tables import EventType

    return {"event_type": EventType.EXPOSURE, "user_id": user_id, "mentor_id": None, "booking_id": None,
            "exposure_id": None, "model_version": model_version, "arm": arm, "occurred_at": occurred_at,
            "payload": payload}


def _install_hook() -> None:
    """SQLite: every Event inserted through the ORM takes its id from the process's counter."""
    global _hook_installed
    if _hook_installed:
        return
    from api.tables import Event

    def before_insert(mapper, connection, target) -> None:
        if target.id is not None or connection.dialect.name == "postgresql":
            return
        found = _writers.get(connection.engine)
        if found is not None:  # above what is in the table now (Core inserts) and what the writer handed out
            top = connection.execute(sa.select(sa.func.max(Event.__table__.c.id))).scalar() or 0
            target.id = found.allocate_above(int(top))

    sa.event.listen(Event, "before_insert", before_insert)
    _hook_installed = True
