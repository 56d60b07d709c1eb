"""Accounts: sign-up, log-in, sessions, verification, social log-in, admins' two-factor sign-in, password hashing.

Pages in `routes`, JSON in `api`, the rules in `accounts` (with `social` and `twofactor`). Other features guard
their views with the decorators of `decorators` (`verified_required` for booking and messaging, `role_required`,
`admin_required`).
"""
from api.auth import session  # noqa: F401 - registers Flask-Login's user loader
from api.auth.api import api_bp
from api.auth.decorators import admin_required, auth_required, role_required, verified_required
from api.auth.routes import bp

__all__ = ["admin_required", "api_bp", "auth_required", "bp", "role_required", "verified_required"]
