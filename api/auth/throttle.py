"""Throttling of log-in and the other abusable account steps, on the counters of api.auth.limits.

Log-in: every attempt is counted before the password is checked (so parallel attempts cannot pass the
limit) and given back when it succeeds, so only failures stay counted; per IP, per account *and* IP (ten
wrong passwords lock that attacker's network out of that account, not the owner elsewhere), and per
account over all IPs (a wide attack). An account locked for a client is mailed a one-time sign-in link
(at most one per window), so its owner has a way in even from the attacker's network.

The client's IP is `request.remote_addr`, which behind the shipped nginx is the proxy's own unless
FORWARDED_PROXIES trusts exactly that many X-Forwarded-For hops (api.create_app applies werkzeug's ProxyFix).
"""
from __future__ import annotations

import logging
from functools import wraps

from flask import current_app, request

from api.auth import limits
from api.auth.limits import LimitReached

logger = logging.getLogger("mentorhub.auth")

LOGIN_MESSAGE = ("Too many failed log-in attempts; wait a few minutes and try again, reset your password, "
                 "or use the one-time sign-in link we e-mail to the account's owner.")


def _settings():
    return current_app.config["MENTORHUB_SETTINGS"]


def client_ip() -> str:
    return request.remote_addr or "unknown"


def _normal(email: str) -> str:
    return str(email or "").strip().lower()[:254]


class LoginAttempt:
    """One counted log-in attempt: `succeeded()` gives its counts back."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys

    def succeeded(self) -> None:
        for counter_key in self.keys:
            limits.refund(counter_key)


def begin_login(email: str) -> LoginAttempt:
    """Count a log-in attempt for (IP, account+IP, account) before the password is checked, or raise LimitReached."""
    settings, ip, email = _settings(), client_ip(), _normal(email)
    counted: list[str] = []
    checks = [
        (limits.key("login-ip", ip), settings.login_limit_per_ip, False),
        (limits.key("login-account-ip", email, ip), settings.login_limit_per_account, True),
        (limits.key("login-account", email), settings.login_limit_per_account_all_ips, True),
    ]
    for counter_key, limit, account_lock in checks:
        try:
            limits.check(counter_key, limit, LOGIN_MESSAGE, "password")
        except LimitReached:
            for earlier in counted:  # a refused attempt is not checked, so it counts nowhere
                limits.refund(earlier)
            if account_lock:
                _mail_sign_in_link(email)
            raise
        counted.append(counter_key)
    return LoginAttempt(counted)


def _mail_sign_in_link(email: str) -> None:
    """The account's owner gets a one-time sign-in link, at most once per lock window (the answer is the same
    whether or not the account exists)."""
    from api.auth import accounts

    user = accounts.find_by_email(email)
    if user is None or not user.is_active:
        return
    settings = _settings()
    count, _ = limits.hit(limits.key("sign-in-link-mail", user.id), settings.login_limit_per_account)
    if count == 1:
        accounts.send_sign_in_link(user)


def limited(scope: str, limit_of, key_of, message: str, methods=("POST",)):
    """A view decorator: count every request of these methods per `key_of()` before the view, 429 beyond."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if request.method in methods:
                limits.check(limits.key(scope, key_of()), limit_of(), message)
            return view(*args, **kwargs)

        return wrapper

    return decorator


signup_per_ip = limited("signup-ip", lambda: _settings().signup_limit_per_ip, client_ip,
                        "Too many sign-ups from this network; try again later.")
reset_per_ip = limited("reset-ip", lambda: _settings().password_reset_limit, client_ip,
                       "Too many password reset requests; try again later.")


def count_sms(user_id: int) -> None:
    """One more text message to the account (whatever the number): LimitReached beyond the limit."""
    limits.check(limits.key("sms", user_id), _settings().otp_send_limit,
                 "Too many codes requested; wait a while before asking for another.", "phone")


def count_email(user_id: int) -> None:
    """One more verification or address-change mail for the account: LimitReached beyond the limit."""
    limits.check(limits.key("email", user_id), _settings().email_send_limit,
                 "Too many e-mails requested; wait a while before asking for another.", "email")


def begin_code_check(user_id: int) -> str:
    """Count a phone-code guess for the account (over every code sent); returns the key to refund on success."""
    counter_key = limits.key("otp-check", user_id)
    limits.check(counter_key, _settings().otp_check_limit,
                 "Too many wrong codes; wait a while before trying again.", "code")
    return counter_key

