"""Flask-Login: a session names the user and their session version, so old sessions die on logout.

The full app loads the ORM user with their roles (`load_user`); the recommendation tier, whose views
only read who is asking, loads a `SessionPrincipal` with the same checks in one plain query
(`load_principal`).
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import joinedload

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
    """`load_user` for the recommendation tier: the same checks, one query on an autocommit connection."""
    user_id, version = _parse(session_id)
    if user_id is None:
        return None
    with _autocommit_engine(db.engine).connect() as connection:
        rows = connection.execute(_PRINCIPAL, {"user_id": user_id}).all()
    if not rows:
        return None
    first = rows[0]
    principal = SessionPrincipal(
        id=user_id, session_version=first.session_version, is_active_account=bool(first.is_active_account),
        roles=frozenset(getattr(r.role, "value", r.role) for r in rows if r.role is not None),
        currency=first.currency, timezone=first.timezone)
    return principal if _session_alive(principal, version) else None


_autocommit_engines: "weakref.WeakKeyDictionary[sa.engine.Engine, sa.engine.Engine]" = weakref.WeakKeyDictionary()


def _autocommit_engine(engine: sa.engine.Engine) -> sa.engine.Engine:
    """A small pool of autocommit connections beside the app's engine: a read with no BEGIN and no
    ROLLBACK round trip (switching a pooled connection's isolation level costs two)."""
    found = _autocommit_engines.get(engine)
    if found is None:
        found = _autocommit_engines[engine] = sa.create_engine(
            engine.url, isolation_level="AUTOCOMMIT", pool_size=2, max_overflow=8)
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
