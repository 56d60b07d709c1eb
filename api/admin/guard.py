"""The admin panel's guard: the admin role (403 for anyone else) and a session that passed TOTP."""
from __future__ import annotations

from functools import wraps

from flask import request, session
from flask_login import current_user

from api.admin import twofactor
from api.errors import error_response, wants_json
from api.extensions import login_manager
from api.tables import Role


def admin_panel_required(view):
    """Admins only; an admin whose session has not passed the second factor is sent to the code step."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not current_user.has_role(Role.ADMIN):
            return error_response(403, "You do not have access to this page.")
        if not twofactor.passed(current_user):
            if wants_json():
                return error_response(401, "Two-factor sign-in required: log in again with your authenticator code.",
                                      {"totp_code": "required"})
            user = current_user._get_current_object()
            next_url = request.full_path.rstrip("?") if request.method == "GET" else ""
            session.pop(twofactor.PASSED_KEY, None)
            return twofactor.begin_second_step(user, next_url)
        return view(*args, **kwargs)

    return wrapper


__all__ = ["admin_panel_required"]
