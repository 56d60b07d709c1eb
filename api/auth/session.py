"""Flask-Login: a session names the user and their session version, so old sessions die on logout."""
from __future__ import annotations

from sqlalchemy.orm import joinedload

from api.extensions import db, login_manager
from api.tables import User

login_manager.login_view = "auth.login"
login_manager.session_protection = "strong"


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    """`<user id>:<session version>`; a stale version (after logout or password change) logs out."""
    user_id, _, version = session_id.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(user_id), options=[joinedload(User.roles)])  # one query on every request
    if user is None or user.session_version != int(version) or not user.is_active:
        return None
    return user


@login_manager.unauthorized_handler
def unauthorized():
    """API clients get 401 JSON; people get the log-in page, coming back afterwards."""
    from flask import flash, redirect, request, url_for

    from api.errors import error_response, wants_json

    if wants_json():
        return error_response(401, "Log in first.", {"session": "not logged in"})
    flash("Please log in to see that page.", "info")
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
