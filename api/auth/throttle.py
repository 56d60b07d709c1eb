"""Throttling of log-in and other abusable endpoints with Flask-Limiter (memory, or Redis with REDIS_URL).

Log-in counts failed attempts only, per account and per IP, in time windows: a window ends on its own,
so nobody can lock another person out for good, and a successful log-in costs nothing.
"""
from __future__ import annotations

from flask import current_app, g, request
from flask_limiter.util import get_remote_address

from api.extensions import limiter


def _settings():
    return current_app.config["MENTORHUB_SETTINGS"]


def _submitted_email() -> str:
    if request.is_json:
        data = request.get_json(silent=True) or {}
        value = data.get("email") if isinstance(data, dict) else ""
    else:
        value = request.form.get("email", "")
    return str(value or "").strip().lower()[:254]


def account_key() -> str:
    return "account:" + _submitted_email()


def ip_key() -> str:
    return "ip:" + (get_remote_address() or "unknown")


def mark_login_failed() -> None:
    """Called by a log-in view when the credentials were wrong: only those attempts are counted."""
    g.login_failed = True


def _login_failed(_response) -> bool:
    return bool(g.get("login_failed"))


_LOGIN_MESSAGE = "Too many failed log-in attempts; wait a few minutes and try again, or reset your password."

login_per_account = limiter.shared_limit(
    lambda: _settings().login_limit_per_account, scope="login-account", key_func=account_key,
    deduct_when=_login_failed, error_message=_LOGIN_MESSAGE, methods=["POST"],
)
login_per_ip = limiter.shared_limit(
    lambda: _settings().login_limit_per_ip, scope="login-ip", key_func=ip_key,
    deduct_when=_login_failed, error_message=_LOGIN_MESSAGE, methods=["POST"],
)
signup_per_ip = limiter.shared_limit(
    lambda: _settings().signup_limit_per_ip, scope="signup-ip", key_func=ip_key, methods=["POST"],
    error_message="Too many sign-ups from this network; try again later.",
)
reset_per_ip = limiter.shared_limit(
    lambda: _settings().password_reset_limit, scope="reset-ip", key_func=ip_key, methods=["POST"],
    error_message="Too many password reset requests; try again later.",
)


def _user_key() -> str:
    from flask_login import current_user

    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return ip_key()


otp_send_per_user = limiter.shared_limit(
    lambda: _settings().otp_send_limit, scope="otp-send", key_func=_user_key, methods=["POST"],
    error_message="Too many codes requested; wait a while before asking for another.",
)
