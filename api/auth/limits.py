"""Counters of the abusable sign-in steps (log-in, two-factor codes, SMS and mails) and one-time nonces.

A counter is a row of `auth_counters`, counted by one atomic upsert (INSERT ... ON CONFLICT DO UPDATE ...
RETURNING) on its own short transaction, on SQLite and PostgreSQL alike. Those transactions use a pool of their
own (`_engine`): a request that holds a connection of the app's pool never waits on that pool for a second one,
so a burst of requests cannot exhaust it and stall. A step is counted *before* it is
checked, so parallel requests and several workers can never check more than the limit; a step that turns out
fine gives its count back (`refund`). The database is the one store: a Redis outage changes nothing here.

A window starts with the first hit and ends on its own (nobody is locked out for good); `now()` is the clock
(tests move it).
"""
from __future__ import annotations

import hashlib
import logging
import random
import threading
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import sqlalchemy as sa

from api.extensions import db
from api.tables.auth_counters import AuthCounter
from api.tables.types import utcnow

logger = logging.getLogger("mentorhub.auth.limits")

_table = AuthCounter.__table__
CLEANUP_CHANCE = 0.01  # one hit in a hundred also deletes rows whose window ended a day ago


def now() -> datetime:
    return utcnow()


@dataclass(frozen=True)
class Limit:
    """At most `amount` hits per `seconds` (from a Flask-Limiter string such as "10 per 15 minutes")."""

    amount: int
    seconds: int

    @classmethod
    def of(cls, value: "str | Limit") -> "Limit":
        return value if isinstance(value, Limit) else _parse(value)


@lru_cache(maxsize=64)
def _parse(text: str) -> Limit:
    from limits import parse

    item = parse(text)
    return Limit(item.amount, item.get_expiry())


class LimitReached(Exception):
    """Refused before the check: too many attempts; `retry_after` seconds until the window ends."""

    def __init__(self, message: str, retry_after: int, field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.retry_after, self.field = message, max(1, int(retry_after)), field


def key(scope: str, *parts: object) -> str:
    """The row key: the scope and a hash of who is counted (no address or IP is stored in plain)."""
    ident = "\x1f".join(str(part).strip().lower() for part in parts)
    digest = hashlib.sha256(f"{scope}\x1f{ident}".encode()).hexdigest()[:48]
    return f"{scope[:40]}:{digest}"


_engines: "weakref.WeakKeyDictionary[sa.engine.Engine, sa.engine.Engine]" = weakref.WeakKeyDictionary()
_engines_lock = threading.Lock()


def _engine() -> sa.engine.Engine:
    """The counters' own engine on the app's database (its connections are held for milliseconds)."""
    app_engine = db.engine
    found = _engines.get(app_engine)
    if found is None:
        with _engines_lock:
            found = _engines.get(app_engine)
            if found is None:
                options = {"connect_args": {"timeout": 30}} if app_engine.dialect.name == "sqlite" else {}
                found = _engines[app_engine] = sa.create_engine(app_engine.url, pool_size=2, max_overflow=30,
                                                                pool_recycle=1800, **options)
    return found


def _insert():
    if db.engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(_table)


def hit(counter_key: str, limit: "str | Limit") -> tuple[int, int]:
    """Count one hit now; returns (hits in the window including this one, seconds until the window ends)."""
    limit = Limit.of(limit)
    moment = now()
    ends = moment + timedelta(seconds=limit.seconds)
    expired = _table.c.window_ends_at <= moment
    statement = _insert().values(key=counter_key, count=1, window_ends_at=ends)
    statement = statement.on_conflict_do_update(
        index_elements=[_table.c.key],
        set_={"count": sa.case((expired, 1), else_=_table.c.count + 1),
              "window_ends_at": sa.case((expired, ends), else_=_table.c.window_ends_at)},
    ).returning(_table.c.count, _table.c.window_ends_at)
    with _engine().begin() as connection:
        count, window_ends_at = connection.execute(statement).one()
        if random.random() < CLEANUP_CHANCE:
            connection.execute(sa.delete(_table).where(_table.c.window_ends_at < moment - timedelta(days=1)))
    return count, max(1, int((window_ends_at - moment).total_seconds() + 0.999))


def check(counter_key: str, limit: "str | Limit", message: str, field: str | None = None) -> int:
    """Count one hit, or raise LimitReached (giving the hit back) when it is over the limit; returns the count."""
    limit = Limit.of(limit)
    count, retry_after = hit(counter_key, limit)
    if count > limit.amount:
        refund(counter_key)
        raise LimitReached(message, retry_after, field)
    return count


def refund(counter_key: str) -> None:
    """Give one hit back (a step that was counted before its check, and turned out fine)."""
    with _engine().begin() as connection:
        connection.execute(sa.update(_table).where(_table.c.key == counter_key, _table.c.count > 0)
                           .values(count=_table.c.count - 1))


def clear(counter_key: str) -> None:
    with _engine().begin() as connection:
        connection.execute(sa.delete(_table).where(_table.c.key == counter_key))


def current(counter_key: str) -> int:
    """Hits in the running window (0 once it has ended)."""
    with _engine().connect() as connection:
        return connection.execute(
            sa.select(_table.c.count).where(_table.c.key == counter_key, _table.c.window_ends_at > now())
        ).scalar() or 0


# --- one-time nonces ------------------------------------------------------------------------------

def put_nonce(counter_key: str, seconds: int) -> None:
    """A nonce that can be claimed once within `seconds`."""
    with _engine().begin() as connection:
        connection.execute(sa.delete(_table).where(_table.c.key == counter_key))
        connection.execute(sa.insert(_table).values(key=counter_key, count=0,
                                                    window_ends_at=now() + timedelta(seconds=seconds)))


def nonce_alive(counter_key: str) -> bool:
    with _engine().connect() as connection:
        return connection.execute(
            sa.select(_table.c.key).where(_table.c.key == counter_key, _table.c.window_ends_at > now())
        ).first() is not None


def claim_nonce(counter_key: str) -> bool:
    """True for exactly one caller while the nonce lives; it is gone afterwards."""
    with _engine().begin() as connection:
        return connection.execute(
            sa.delete(_table).where(_table.c.key == counter_key, _table.c.window_ends_at > now())
        ).rowcount == 1
