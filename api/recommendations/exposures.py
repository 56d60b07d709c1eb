"""Exposure events written off the request path: real ids handed out at once, rows inserted in batches.

A recommendation response must carry the id of its exposure event (clicks and bookings are attributed
to it), but it must not wait for an INSERT and a commit. So the id is allocated up front and the row is
queued; a background thread inserts whatever is queued in one transaction every few milliseconds.

Ids come in blocks reserved from the database's own events sequence, so any number of processes can
serve and no other insert can take a reserved id:
- PostgreSQL: `nextval` of the events id sequence, a block per round trip;
- SQLite: the table's AUTOINCREMENT counter (migration 0012), bumped by a block in one short write
  transaction; every later insert, from any process, gets an id above it.

Nothing is lost in normal operation: a failed batch stays queued and is retried, `flush()` waits
until everything queued so far is committed (the click and booking-attribution paths call it when
they need an exposure that may still be queued), and the queue is flushed when the process stops.
"""
from __future__ import annotations

import atexit
import collections
import logging
import multiprocessing.util
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from api.tables import Event, EventType

logger = logging.getLogger(__name__)
BATCH_INTERVAL_SECONDS = 0.02  # a batch per 20 ms: a commit costs more than a row
SEQUENCE_BLOCK = 128
MAX_BATCH = 2000

_writers: "weakref.WeakKeyDictionary[sa.engine.Engine, ExposureWriter]" = weakref.WeakKeyDictionary()
_writers_lock = threading.Lock()


class ExposureWriter:
    """One per database engine: allocates event ids and inserts queued exposure rows in the background."""

    def __init__(self, engine: sa.engine.Engine, interval: float = BATCH_INTERVAL_SECONDS):
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
        self._flush_waiters = 0
        self._writer_idle = False  # the writer thread waits for rows (rather than writing or pausing)
        self._block: collections.deque[int] = collections.deque()  # reserved ids not handed out yet
        self._sequence: str | None = None
        self._thread: threading.Thread | None = None
        self.failures = 0

    # ------------------------------------------------------------ ids
    def allocate(self) -> int:
        """A new events id that no other insert will take."""
        with self._lock:
            if not self._block:  # the first one, or a burst the writer thread's top-ups did not keep up with
                self._block.extend(self._reserve_block())
            return self._block.popleft()

    def _top_up(self) -> None:
        """Writer thread: reserve the next block while half of this one is left, so that a request never waits
        for the database (on SQLite, for the write lock another process's writer may hold)."""
        if len(self._block) < SEQUENCE_BLOCK // 2:
            more = self._reserve_block()
            with self._lock:
                self._block.extend(more)

    def _reserve_block(self) -> list[int]:
        with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                if self._sequence is None:
                    self._sequence = conn.execute(sa.text("SELECT pg_get_serial_sequence('events', 'id')")).scalar()
                return sorted(int(r) for r in conn.execute(
                    sa.text("SELECT nextval(CAST(:seq AS regclass)) FROM generate_series(1, :n)"),
                    {"seq": self._sequence, "n": SEQUENCE_BLOCK}).scalars())
            # SQLite: the counter row exists once the table has had a row; the UPDATE takes the write lock
            conn.execute(sa.text("INSERT INTO sqlite_sequence (name, seq) SELECT 'events', "
                                 "(SELECT coalesce(max(id), 0) FROM events) "
                                 "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'events')"))
            top = int(conn.execute(sa.text("UPDATE sqlite_sequence SET seq = seq + :n WHERE name = 'events' "
                                           "RETURNING seq"), {"n": SEQUENCE_BLOCK}).scalar_one())
            return list(range(top - SEQUENCE_BLOCK + 1, top + 1))

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
            if self._writer_idle:  # wake the writer only when it waits for rows, never during a batching pause:
                self._cond.notify()  # a woken thread costs the request a switch of the interpreter lock
        return row["id"]

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
            self._flush_waiters += 1  # the writer stops letting batches gather while someone waits
            self._cond.notify_all()
            try:
                return self._cond.wait_for(lambda: self._written >= target, timeout)
            finally:
                self._flush_waiters -= 1

    def _ensure_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="exposure-writer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._writer_idle = True
                while not self._queue:
                    self._cond.wait(1.0)
                self._writer_idle = False
                batch = self._queue[:MAX_BATCH]
            try:
                self._insert(batch)
            except Exception:  # noqa: BLE001 - keep the rows queued and retry
                self.failures += 1
                logger.exception("could not write %d exposure events; retrying", len(batch))
                time.sleep(min(1.0, 0.05 * self.failures))
                continue
            with self._cond:
                del self._queue[:len(batch)]
                self._pending_ids.difference_update(r["id"] for r in batch)
                self._written += len(batch)
                self._cond.notify_all()
            try:
                self._top_up()
            except Exception:  # noqa: BLE001 - a request reserves the block itself when it has to
                logger.exception("exposure writer: could not reserve the next block of ids")
            if self.interval:
                with self._cond:  # let a batch gather, unless someone is waiting for the queue to be written
                    self._cond.wait_for(lambda: self._flush_waiters > 0, self.interval)

    def _insert(self, batch: list[dict]) -> None:
        with self.engine.begin() as conn:
            conn.execute(self.table.insert(), batch)


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
    """The engine's writer (made on first use)."""
    found = _writers.get(engine)
    if found is None:
        with _writers_lock:
            found = _writers.get(engine)
            if found is None:
                found = ExposureWriter(engine)
                _writers[engine] = found
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


def flush_when_worker_stops() -> None:
    """In a server worker process started by multiprocessing (granian's), which leaves through its
    finalizers and skips atexit: write what is queued when the worker stops."""
    multiprocessing.util.Finalize(None, flush_all, kwargs={"timeout": 30}, exitpriority=10)


def exposure_row(*, user_id: int, model_version: str | None, arm: str | None, occurred_at: datetime,
                 payload: dict[str, Any]) -> dict:
    """An events row for an exposure (the columns of api.activity.log_event)."""
    return {"event_type": EventType.EXPOSURE, "user_id": user_id, "mentor_id": None, "booking_id": None,
            "exposure_id": None, "model_version": model_version, "arm": arm, "occurred_at": occurred_at,
            "payload": payload}
