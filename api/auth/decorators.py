"""Guards for views of every feature: `verified_required` (book, message), `role_required` and `admin_required`."""
from __future__ import annotations

from functools import wraps

from flask import flash, redirect, request, url_for
from flask_login import current_user

from api.auth import twofactor
from api.auth.accounts import is_verified
from api.errors import error_response, wants_json
from api.extensions import login_manager
from api.tables import Role


def verified_required(view):
    """Logged in with a verified account; otherwise the login page, the verification page, or 401/403 JSON."""

    @wraps(view)
    def wrapper(*args, **kwargs):
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
    """Logged in with at least one of the roles; anyone else gets 403 (anonymous: the login page or 401).

    A user who qualifies only as an admin must also have passed the second factor (see `admin_required`)."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not any(current_user.has_role(role) for role in roles):
                return error_response(403, "You do not have access to this page.")
            if Role.ADMIN in roles and not any(current_user.has_role(r) for r in roles if r is not Role.ADMIN):
                refused = _second_factor_missing()
                if refused is not None:
                    return refused
            return view(*args, **kwargs)

        wrapper.admin_only = Role.ADMIN in roles and len(roles) == 1
        return wrapper

    return decorator


def _second_factor_missing():
    """None when this admin session passed TOTP; otherwise 401 JSON, or the code step for people."""
    if twofactor.passed(current_user):
        return None
    if wants_json():
        return error_response(401, "Two-factor sign-in required: log in again with your authenticator code.",
                              {"totp_code": "required"})
    user = current_user._get_current_object()
    next_url = request.full_path.rstrip("?") if request.method == "GET" else ""
    return twofactor.begin_second_step(user, next_url)


# the one admin guard, for every admin page and API of every feature: the admin role (403 for anyone else)
# and a session that passed TOTP two-factor sign-in (401 JSON, or the code step)
admin_required = role_required(Role.ADMIN)


def auth_required(view):
    """Logged in (any role); 401 JSON for the API, the login page for the web."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        return view(*args, **kwargs)

    return wrapper
