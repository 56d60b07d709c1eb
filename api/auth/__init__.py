"""Accounts: sign-up, log-in, sessions and password hashing."""
from flask import Blueprint

bp = Blueprint("auth", __name__)

from api.auth import session  # noqa: E402,F401
