"""Every account's session facts in memory for the recommendation tier on PostgreSQL, kept current by the database.

Checking a session needs the account's session version, active flag, roles, currency and time zone. The
recommendation tier answers the busiest request of the product, and querying those on every request was
a sixth of its work and most of the database's. So each of its worker processes keeps a
`PrincipalDirectory`: a thread LISTENs on `mentorhub_principals` (the triggers of migration 0013 send the
user id of every changed, added or deleted account or role), loads every account once, then re-reads the
accounts it is told about. PostgreSQL delivers a notification when its transaction commits, so a log-out
or a deactivation reaches the tier within milliseconds.

The directory does not answer while it loads, while its connection is down (it reconnects and loads
everything again) or for an account it does not hold (one created a moment ago): the tier queries then,
as it always does on SQLite, which has no notifications between processes. Memory: a record of 18 bytes
per user id, so a million accounts take 18 MB per worker.
"""
from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import weakref

import numpy as np
import sqlalchemy as sa

from api.tables import Role, User, UserRole

logger = logging.getLogger(__name__)

CHANNEL = "mentorhub_principals"
APPLICATION_NAME = "mentorhub principal directory"  # its connection in pg_stat_activity
LOAD_CHUNK = 50_000  # user ids per query of a full load
IDLE_CHECK_SECONDS = 5.0  # with no notification for this long, a round trip checks the connection
RETRY_SECONDS = 2.0  # between reconnection attempts
# a database host that vanished (no reset, no answer) is noticed within about 10 s, not TCP's quarter hour
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 4, "keepalives_interval": 2, "keepalives_count": 3}
ROLES = [role.value for role in Role]  # bit i of an account's role mask is ROLES[i]
# a mask's roles as the principal query's role column gives them: one row per role, or one row with no role
ROLE_COLUMN = [[role for bit, role in enumerate(ROLES) if mask >> bit & 1] or [None] for mask in range(1 << len(ROLES))]
RECORD = np.dtype([("version", "i8"), ("active", "?"), ("roles", "u1"), ("currency", "i4"), ("timezone", "i4")])

_users, _roles = User.__table__, UserRole.__table__
_FACTS = (sa.select(_users.c.id, _users.c.session_version, _users.c.is_active_account, _users.c.currency,
                    _users.c.timezone, _roles.c.role).outerjoin(_roles, _roles.c.user_id == _users.c.id))


class PrincipalDirectory:
    """One per database engine and process (`directory_for`): records indexed by user id, a listener thread."""

    def __init__(self, engine: sa.engine.Engine) -> None:
        self.engine = sa.create_engine(engine.url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool,
                                       connect_args={"application_name": APPLICATION_NAME, **KEEPALIVES})
        self.ready = False  # loaded, and listening since before the load
        self._records: np.ndarray = np.zeros(0, RECORD)  # version -1: no such account
        self._texts: list[str | None] = []  # currencies and time zones, by the number a record holds
        self._text_numbers: dict[str | None, int] = {}
        self._wake_read, self._wake_write = os.pipe()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="principal-directory", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ the request side

    def rows(self, user_id: int) -> list[tuple] | None:
        """The account's (session_version, is_active_account, currency, timezone, role) rows, as the principal
        query returns them; None when the directory cannot answer (then ask the database)."""
        records = self._records
        if not self.ready or not 0 <= user_id < len(records):
            return None
        version, active, roles, currency, timezone = records[user_id].tolist()
        if version < 0:
            return None
        texts = self._texts
        return [(version, active, texts[currency], texts[timezone], role) for role in ROLE_COLUMN[roles]]

    def close(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        os.write(self._wake_write, b"x")
        self._thread.join(timeout)
        for fd in (self._wake_read, self._wake_write):
            with contextlib.suppress(OSError):
                os.close(fd)

    # ------------------------------------------------------------ the listener thread

    def _run(self) -> None:
        while not self._stopping.is_set():
            connection = None
            try:
                connection = self._connect()
                self._load(connection)
                self.ready = True
                self._listen(connection)
            except Exception as error:  # noqa: BLE001 - the database went away: the tier queries until we are back
                if not self._stopping.is_set():
                    logger.warning("principal directory: %s; the tier queries the database until it is back", error)
            finally:
                self.ready = False
                if connection is not None:
                    with contextlib.suppress(Exception):
                        connection.close()
            self._stopping.wait(RETRY_SECONDS)

    def _connect(self) -> sa.engine.Connection:
        connection = self.engine.connect()
        connection.exec_driver_sql(f"LISTEN {CHANNEL}")  # before the load: nothing committed after it is missed
        return connection

    def _listen(self, connection: sa.engine.Connection) -> None:
        driver = connection.connection.dbapi_connection  # psycopg2's: its socket and its notifications
        while not self._stopping.is_set():
            readable = select.select([driver, self._wake_read], [], [], IDLE_CHECK_SECONDS)[0]
            if self._stopping.is_set():
                return
            if readable:
                driver.poll()
            else:
                connection.exec_driver_sql("SELECT 1")  # a dead connection raises here (notifications are read)
            changed, everything = set(), False
            while driver.notifies:
                payload = driver.notifies.pop(0).payload
                if payload == "*":
                    everything = True
                elif payload.isdigit():
                    changed.add(int(payload))
            if everything or len(changed) > LOAD_CHUNK // 10:  # (a bulk change: cheaper to read everything)
                self._load(connection)
            elif changed:
                self._load(connection, sorted(changed))

    def _load(self, connection: sa.engine.Connection, user_ids: list[int] | None = None) -> None:
        """Every account (into a new array, swapped in), or these accounts (in place; gone ones marked so)."""
        if user_ids is None:
            top = connection.execute(sa.select(sa.func.coalesce(sa.func.max(_users.c.id), 0))).scalar_one()
            records = _empty(top)
            for low in range(0, top + 1, LOAD_CHUNK):
                self._fill(records, connection.execute(  # (a newer account is in a notification)
                    _FACTS.where(_users.c.id >= low, _users.c.id < low + LOAD_CHUNK, _users.c.id <= top)).all())
            self._records = records
            return
        rows = connection.execute(_FACTS.where(_users.c.id.in_(user_ids))).all()
        records = self._records
        if user_ids[-1] >= len(records):
            records = _empty(user_ids[-1])
            records[:len(self._records)] = self._records
            self._records = records
        records["version"][user_ids] = -1  # gone, unless read again (a request meanwhile asks the database)
        self._fill(records, rows)

    def _fill(self, records: np.ndarray, rows: list[tuple]) -> None:
        """Write these accounts' records (an account with n roles is n rows), each in one go."""
        facts: dict[int, tuple] = {}
        roles: dict[int, int] = {}
        for user_id, version, active, currency, timezone, role in rows:
            facts[user_id] = (version, active, currency, timezone)
            if role is not None:
                roles[user_id] = roles.get(user_id, 0) | 1 << ROLES.index(getattr(role, "value", role))
        for user_id, (version, active, currency, timezone) in facts.items():
            record = records[user_id]
            record["roles"] = roles.get(user_id, 0)
            record["active"] = bool(active)
            record["currency"] = self._number(currency)
            record["timezone"] = self._number(timezone)
            record["version"] = version  # last: a concurrent reader sees the account once it is complete

    def _number(self, text: str | None) -> int:
        number = self._text_numbers.get(text)
        if number is None:
            self._texts.append(text)
            number = self._text_numbers[text] = len(self._texts) - 1
        return number


def _empty(top_user_id: int) -> np.ndarray:
    """Records for user ids up to `top_user_id`, with room to grow; every one 'no such account'."""
    records = np.zeros(top_user_id + 1 + top_user_id // 4 + 1024, RECORD)
    records["version"] = -1
    return records


_directories: "weakref.WeakKeyDictionary[sa.engine.Engine, PrincipalDirectory]" = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def directory_for(engine: sa.engine.Engine) -> PrincipalDirectory | None:
    """The engine's directory, started on first use; None on a database without notifications (SQLite)."""
    found = _directories.get(engine)
    if found is None and engine.dialect.name == "postgresql":
        with _lock:
            found = _directories.get(engine)
            if found is None:
                found = _directories[engine] = PrincipalDirectory(engine)
    return found


def close(engine: sa.engine.Engine) -> None:
    found = _directories.pop(engine, None)
    if found is not None:
        found.close()
