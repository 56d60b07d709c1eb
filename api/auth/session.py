"""Flask-Login: a session names the user and their session version, so old sessions die on logout.

The web tier loads the ORM user with their roles (`load_user`); the recommendation tier reads the same cookie
with the same checks into a lighter object (`api.recommendations.principal`).
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import flash, redirect, request, url_for
from sqlalchemy.orm import joinedload

from api.errors import error_response, wants_json
from api.extensions import db, login_manager
from api.tables import User

# one query on every request, built once (its cache key is computed once, not per request)
_USER_WITH_ROLES = sa.select(User).options(joinedload(User.roles)).where(User.id == sa.bindparam("user_id"))

login_manager.login_view = "auth.login"
login_manager.session_protection = "strong"


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    """`<user id>:<session version>`; a stale version (after logout or password change) logs out."""
    user_id, version = parse_session_id(session_id)
    if user_id is None:
        return None
    user = db.session.execute(_USER_WITH_ROLES, {"user_id": user_id}).unique().scalar_one_or_none()
    return user if session_alive(user, version) else None


def parse_session_id(session_id: str) -> tuple[int | None, int | None]:
    """The user id and session version a session names (`<user id>:<session version>`), or (None, None)."""
    user_id, _, version = session_id.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None, None
    return int(user_id), int(version)


def session_alive(user, version: int) -> bool:
    """The session names the user's current session version and the account is active."""
    return user is not None and user.session_version == version and user.is_active


@login_manager.unauthorized_handler
def unauthorized():
    """API clients get 401 JSON; people get the log-in page, coming back afterwards."""
    if wants_json():
        return error_response(401, "Log in first.", {"session": "not logged in"})
    flash("Please log in to see that page.", "info")
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
