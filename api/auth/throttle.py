"""Throttling of log-in and the other abusable account steps, on the counters of api.auth.limits.

Log-in: every attempt is counted before the password is checked (so parallel attempts cannot pass the
limit) and given back when it succeeds, so only failures stay counted; per IP, per account *and* IP (ten
wrong passwords lock that attacker's network out of that account, not the owner elsewhere), and per
account over all IPs (a wide attack). Such an account lock raises `AccountLocked`, on which
`api.auth.accounts.check_login` mails the owner a one-time sign-in link (at most one per window), so they
have a way in even from the attacker's network.

The client's IP is `request.remote_addr`, which behind the shipped nginx is the proxy's own unless
FORWARDED_PROXIES trusts exactly that many X-Forwarded-For hops (api.create_app applies werkzeug's ProxyFix).
"""
from __future__ import annotations

import logging
from functools import wraps

from flask import request

from api.auth import limits
from api.auth.limits import LimitReached
from api.settings import current_settings

logger = logging.getLogger("mentorhub.auth")

LOGIN_MESSAGE = ("Too many failed log-in attempts; wait a few minutes and try again, reset your password, "
                 "or use the one-time sign-in link we e-mail to the account's owner.")


def client_ip() -> str:
    return request.remote_addr or "unknown"


def _normal(email: str) -> str:
    return str(email or "").strip().lower()[:254]


class AccountLocked(LimitReached):
    """A log-in refused by a per-account counter (not only the IP's): `email` names the account."""

    def __init__(self, refused: LimitReached, email: str) -> None:
        super().__init__(refused.message, refused.retry_after, refused.field)
        self.email = email


class LoginAttempt:
    """One counted log-in attempt: `succeeded()` gives its counts back."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys

    def succeeded(self) -> None:
        for counter_key in self.keys:
            limits.refund(counter_key)


def begin_login(email: str) -> LoginAttempt:
    """Count a log-in attempt for (IP, account+IP, account) before the password is checked, or raise LimitReached
    (AccountLocked when an account's counter refused it)."""
    settings, ip, email = current_settings(), client_ip(), _normal(email)
    counted: list[str] = []
    checks = [
        (limits.key("login-ip", ip), settings.login_limit_per_ip, False),
        (limits.key("login-account-ip", email, ip), settings.login_limit_per_account, True),
        (limits.key("login-account", email), settings.login_limit_per_account_all_ips, True),
    ]
    for counter_key, limit, account_lock in checks:
        try:
            limits.check(counter_key, limit, LOGIN_MESSAGE, "password")
        except LimitReached as refused:
            for earlier in counted:  # a refused attempt is not checked, so it counts nowhere
                limits.refund(earlier)
            if account_lock:
                raise AccountLocked(refused, email) from None
            raise
        counted.append(counter_key)
    return LoginAttempt(counted)


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


signup_per_ip = limited("signup-ip", lambda: current_settings().signup_limit_per_ip, client_ip,
                        "Too many sign-ups from this network; try again later.")
reset_per_ip = limited("reset-ip", lambda: current_settings().password_reset_limit, client_ip,
                       "Too many password reset requests; try again later.")


def count_sms(user_id: int) -> None:
    """One more text message to the account (whatever the number): LimitReached beyond the limit."""
    limits.check(limits.key("sms", user_id), current_settings().otp_send_limit,
                 "Too many codes requested; wait a while before asking for another.", "phone")


def count_email(user_id: int) -> None:
    """One more verification or address-change mail for the account: LimitReached beyond the limit."""
    limits.check(limits.key("email", user_id), current_settings().email_send_limit,
                 "Too many e-mails requested; wait a while before asking for another.", "email")


def begin_code_check(user_id: int) -> str:
    """Count a phone-code guess for the account (over every code sent); returns the key to refund on success."""
    counter_key = limits.key("otp-check", user_id)
    limits.check(counter_key, current_settings().otp_check_limit,
                 "Too many wrong codes; wait a while before trying again.", "code")
    return counter_key
