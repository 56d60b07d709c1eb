"""Flask-Login: a session names the user and their session version, so old sessions die on logout.

The full app loads the ORM user with their roles (`load_user`); the recommendation tier, whose views
only read who is asking, builds a `SessionPrincipal` with the same checks (`load_principal`) from the
principal directory on PostgreSQL, or from one plain query.
"""
from __future__ import annotations

import contextlib
import threading
import weakref
from dataclasses import dataclass

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import joinedload

from api.auth.principals import directory_for
from api.extensions import db, login_manager
from api.tables import Role, User, UserRole

# one query on every request, built once (its cache key is computed once, not per request)
_USER_WITH_ROLES = sa.select(User).options(joinedload(User.roles)).where(User.id == sa.bindparam("user_id"))

login_manager.login_view = "auth.login"
login_manager.session_protection = "strong"


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    """`<user id>:<session version>`; a stale version (after logout or password change) logs out."""
    user_id, version = _parse(session_id)
    if user_id is None:
        return None
    user = db.session.execute(_USER_WITH_ROLES, {"user_id": user_id}).unique().scalar_one_or_none()
    return user if _session_alive(user, version) else None


@dataclass(frozen=True)
class SessionPrincipal(UserMixin):
    """The logged-in user as the recommendation tier needs them: no ORM object, nothing to write back."""

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
_PRINCIPAL = (sa.select(_users.c.session_version, _users.c.is_active_account, _users.c.currency, _users.c.timezone,
                        _roles.c.role)
              .outerjoin(_roles, _roles.c.user_id == _users.c.id).where(_users.c.id == sa.bindparam("user_id")))


def load_principal(session_id: str) -> SessionPrincipal | None:
    """`load_user` for the recommendation tier: the same checks, on the account's facts from the principal
    directory (api.auth.principals) or, where it cannot answer, one plain query on an autocommit connection."""
    user_id, version = _parse(session_id)
    if user_id is None:
        return None
    directory = directory_for(db.engine)  # PostgreSQL: every account in memory, kept current by NOTIFY
    rows = directory.rows(user_id) if directory is not None else None
    if rows is None:
        rows = _reader(db.engine).rows(user_id)
    if not rows:
        return None
    session_version, is_active, currency, timezone, _role = rows[0]
    principal = SessionPrincipal(
        id=user_id, session_version=session_version, is_active_account=bool(is_active),
        roles=frozenset(role for *_facts, role in rows if role is not None), currency=currency, timezone=timezone)
    return principal if _session_alive(principal, version) else None


class _PrincipalReader:
    """`_PRINCIPAL` as plain SQL on one autocommit DBAPI connection per thread: no pool checkout, no BEGIN or
    ROLLBACK, no statement or result objects per request (they were most of the query's cost in the tier)."""

    def __init__(self, engine: sa.engine.Engine) -> None:
        self.engine = sa.create_engine(engine.url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        compiled = _PRINCIPAL.compile(dialect=self.engine.dialect)
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


_readers: "weakref.WeakKeyDictionary[sa.engine.Engine, _PrincipalReader]" = weakref.WeakKeyDictionary()


def _reader(engine: sa.engine.Engine) -> _PrincipalReader:
    found = _readers.get(engine)
    if found is None:
        found = _readers[engine] = _PrincipalReader(engine)
    return found


def _parse(session_id: str) -> tuple[int | None, int | None]:
    user_id, _, version = session_id.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None, None
    return int(user_id), int(version)


def _session_alive(user, version: int) -> bool:
    """The session names the user's current session version and the account is active."""
    return user is not None and user.session_version == version and user.is_active


@login_manager.unauthorized_handler
def unauthorized():
    """API clients get 401 JSON; people get the log-in page, coming back afterwards."""
    from flask import flash, redirect, request, url_for

    from api.errors import error_response, wants_json

    if wants_json():
        return error_response(401, "Log in first.", {"session": "not logged in"})
    flash("Please log in to see that page.", "info")
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
