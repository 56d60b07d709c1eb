"""Write transactions that serialise booking checks: BEGIN IMMEDIATE on SQLite, the exclusion constraint on PostgreSQL.

Actions that must only happen once the change is durable (the outbox, calendar sync) are staged on the
session and run after the commit; a rollback drops them.
"""
from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

from sqlalchemy import text

from api.extensions import db

logger = logging.getLogger(__name__)

_STAGED = "mentorhub.bookings.after_commit"
# pg_advisory_xact_lock's first key: the namespace of the bookings feature's locks
LEARNER_LOCK_NAMESPACE = 5005
_LEARNER_LOCK = text("SELECT pg_advisory_xact_lock(:ns, :id)")


def after_commit(action: Callable[[], None]) -> None:
    """Run `action` once the current serialised write commits (never if it rolls back)."""
    db.session.info.setdefault(_STAGED, []).append(action)


@contextmanager
def serialised_write() -> Iterator[None]:
    """One write transaction in which checks and inserts cannot interleave with another writer's.

    SQLite: `BEGIN IMMEDIATE` takes the database's write lock before the first read of the check, so a
    second writer waits (busy timeout) until this one commits, and then sees its rows. pysqlite's default
    transaction control begins a transaction only before DML, so a session that has only read so far
    has no open SQLite transaction and the explicit BEGIN is legal; one that has written is committed first.
    PostgreSQL: a plain READ COMMITTED transaction; the exclusion constraint refuses an overlapping
    insert from a concurrent writer (the caller turns that IntegrityError into a 409).
    """
    session = db.session()  # the request's Session itself, not the scoped proxy
    connection = session.connection()
    local_lock = None
    if connection.dialect.name == "sqlite":
        raw = connection.connection.driver_connection
        if raw.in_transaction:
            session.commit()
            connection = session.connection()
            raw = connection.connection.driver_connection
        # writers of this process queue on a lock instead of SQLite's busy handler (which sleeps up to
        # 100 ms a try); BEGIN IMMEDIATE still serialises against other processes
        local_lock = _sqlite_lock(str(connection.engine.url))
        local_lock.acquire()
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            local_lock.release()
            raise
    session.info[_STAGED] = []
    expire_on_commit = session.expire_on_commit
    try:
        yield
        session.expire_on_commit = False  # what was just written is current: no reload after the commit
        session.commit()
    except BaseException:
        session.rollback()
        session.info.pop(_STAGED, None)
        raise
    finally:
        session.expire_on_commit = expire_on_commit
        if local_lock is not None:
            local_lock.release()
    for action in session.info.pop(_STAGED, []):
        try:
            action()
        except Exception:  # the change is committed; a failed side effect is logged, not a 500
            logger.exception("after-commit action failed")


_sqlite_locks: dict[str, threading.RLock] = {}
_sqlite_locks_guard = threading.Lock()


def _sqlite_lock(url: str) -> threading.RLock:
    with _sqlite_locks_guard:
        return _sqlite_locks.setdefault(url, threading.RLock())


def lock_learner(learner_id: int) -> None:
    """PostgreSQL: serialise one learner's concurrent bookings (SQLite's BEGIN IMMEDIATE already does)."""
    if db.session.connection().dialect.name == "postgresql":
        db.session.execute(_LEARNER_LOCK, {"ns": LEARNER_LOCK_NAMESPACE, "id": learner_id})
