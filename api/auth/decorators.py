"""Guards for views of every feature: `verified_required` (book, message) and `role_required` (admin)."""
from __future__ import annotations

from functools import wraps

from flask import flash, redirect, request, url_for
from flask_login import current_user

from api.errors import error_response, wants_json
from api.extensions import login_manager
from api.tables import Role


def verified_required(view):
    """Logged in with a verified account; otherwise the login page, the verification page, or 401/403 JSON."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        from api.auth.accounts import is_verified

        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not is_verified(current_user):
            message = "Verify your e-mail address and phone number first."
            if wants_json():
                return error_response(403, message, {"account": "not verified"})
            flash(message, "error")
            return redirect(url_for("auth.verify", next=request.full_path))
        return view(*args, **kwargs)

    return wrapper


def role_required(*roles: Role):
    """Logged in with at least one of the roles; anyone else gets 403 (anonymous: the login page or 401)."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not any(current_user.has_role(role) for role in roles):
                return error_response(403, "You do not have access to this page.")
            return view(*args, **kwargs)

        return wrapper

    return decorator


admin_required = role_required(Role.ADMIN)


def auth_required(view):
    """Logged in (any role); 401 JSON for the API, the login page for the web."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        return view(*args, **kwargs)

    return wrapper
