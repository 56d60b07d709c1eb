"""Accounts: sign-up, log-in, sessions, verification, social log-in and password hashing.

Other features guard their views with `verified_required` (booking, messaging) and `role_required`.
"""
from apiflask import APIBlueprint
from flask import Blueprint

bp = Blueprint("auth", __name__)
api_bp = APIBlueprint("auth_api", __name__, url_prefix="/api/v1/auth", tag="Accounts")

from api.auth import session  # noqa: E402,F401
from api.auth.decorators import admin_required, auth_required, role_required, verified_required  # noqa: E402
from api.auth import api, routes, social  # noqa: E402,F401

__all__ = ["admin_required", "api_bp", "auth_required", "bp", "role_required", "verified_required"]
