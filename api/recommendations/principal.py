"""Who is asking, on the recommendation tier: a `SessionPrincipal` read from the session cookie.

The tier's views read `flask_login.current_user` like every view; on the tier it is a `SessionPrincipal`,
not the ORM `User` the web tier loads (`api.auth.session.load_user`), because those views only need who is
asking and nothing to write back. The contract of the object:

- attributes: `id`, `session_version`, `is_active_account`, `roles` (role values), `currency`, `timezone`;
  `has_role(Role)`, and Flask-Login's `is_authenticated`, `is_active`, `get_id()`; frozen.
- checks made before a request sees it, the same as `load_user` makes: the cookie names an existing account
  (`<user id>:<session version>`), the account is active (a deactivated or suspended account is refused), the
  cookie's session version is the account's (logging out everywhere or a password change revokes every older
  session), and Flask-Login's "strong" session protection (the cookie comes from the browser it was given to).
- freshness: on PostgreSQL the facts come from the worker's principal directory (`caches.PrincipalDirectory`),
  which hears of a change when it commits (within milliseconds); elsewhere, and while the directory cannot answer,
  from one query per request.
"""
from __future__ import annotations

import contextlib
import threading
import weakref
from dataclasses import dataclass

import sqlalchemy as sa
from flask_login import UserMixin

from api.auth.session import parse_session_id, session_alive
from api.extensions import db
from api.recommendations import caches
from api.tables import Role, User, UserRole


@dataclass(frozen=True)
class SessionPrincipal(UserMixin):
    """The signed-in user as the recommendation tier sees them (the contract above)."""

    id: int
    session_version: int
    is_active_account: bool
    roles: frozenset[str]
    currency: str
    timezone: str

    def has_role(self, role: Role) -> bool:
        return role.value in self.roles

    @property
    def is_active(self) -> bool:
        return self.is_active_account

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"


_users, _roles = User.__table__, UserRole.__table__
# one row per role (one row with no role for an account without any)
_SESSION_ROWS = (sa.select(_users.c.session_version, _users.c.is_active_account, _users.c.currency,
                           _users.c.timezone, _roles.c.role)
                 .outerjoin(_roles, _roles.c.user_id == _users.c.id).where(_users.c.id == sa.bindparam("user_id")))


def load_principal(session_id: str) -> SessionPrincipal | None:
    """The tier's Flask-Login user loader: the signed-in user of this session id, or None (not signed in); the
    account's facts from the principal directory or, where it cannot answer, one plain query."""
    user_id, version = parse_session_id(session_id)
    if user_id is None:
        return None
    directory = caches.directory_for(db.engine)  # PostgreSQL: every account in memory, kept current by NOTIFY
    rows = directory.rows(user_id) if directory is not None else None
    if rows is None:
        rows = reader(db.engine).rows(user_id)
    if not rows:
        return None
    session_version, is_active, currency, timezone, _role = rows[0]
    principal = SessionPrincipal(
        id=user_id, session_version=session_version, is_active_account=bool(is_active),
        roles=frozenset(role for *_facts, role in rows if role is not None), currency=currency, timezone=timezone)
    return principal if session_alive(principal, version) else None


class SessionReader:
    """`_SESSION_ROWS` as plain SQL on one autocommit DBAPI connection per thread: no pool checkout, no BEGIN or
    ROLLBACK, no statement or result objects per request (most of the cost of a query this small)."""

    def __init__(self, engine: sa.engine.Engine) -> None:
        self.engine = sa.create_engine(engine.url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        compiled = _SESSION_ROWS.compile(dialect=self.engine.dialect)
        self.sql = str(compiled)
        self.order = compiled.positiontup if compiled.positional else None
        self.errors = (self.engine.dialect.loaded_dbapi.Error, sa.exc.DBAPIError)
        self.local = threading.local()

    def rows(self, user_id: int) -> list[tuple]:
        params = {"user_id": user_id}
        if self.order is not None:
            params = tuple(params[name] for name in self.order)
        try:
            return self._execute(params)
        except self.errors:  # a dropped connection (a restart, a killed backend): a new one, once
            connection, self.local.connection = getattr(self.local, "connection", None), None
            if connection is not None:
                with contextlib.suppress(*self.errors):
                    connection.close()
            return self._execute(params)

    def _execute(self, params) -> list[tuple]:
        connection = getattr(self.local, "connection", None)
        if connection is None:  # this thread's own, outside any pool (closed when the thread ends)
            pooled = self.engine.raw_connection()
            pooled.detach()
            connection = self.local.connection = pooled.dbapi_connection
        cursor = connection.cursor()
        cursor.execute(self.sql, params)
        rows = cursor.fetchall()
        cursor.close()
        return rows


_readers: weakref.WeakKeyDictionary[sa.engine.Engine, SessionReader] = weakref.WeakKeyDictionary()


def reader(engine: sa.engine.Engine) -> SessionReader:
    """The engine's session reader, made on first use."""
    found = _readers.get(engine)
    if found is None:
        found = _readers[engine] = SessionReader(engine)
    return found
