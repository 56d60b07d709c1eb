"""Who is asking: the signed-in user, and whether they may book.

`require_verified` is the one place that checks e-mail verification; swap it for the accounts
feature's `verified_required` once that exists.
"""
from __future__ import annotations

from flask_login import current_user

from api.bookings.service import BookingError
from api.tables import User


def signed_in_user() -> User | None:
    return current_user._get_current_object() if current_user.is_authenticated else None


def require_user() -> User:
    user = signed_in_user()
    if user is None:
        raise BookingError(401, "Please log in first.", None)
    return user


def require_verified(user: User) -> User:
    """The accounts feature's rule: a verified e-mail address, and a verified phone number when required."""
    from api.auth.accounts import is_verified

    if not is_verified(user):
        raise BookingError(403, "Please verify your account (e-mail address and phone number) before booking.",
                           "account")
    return user
