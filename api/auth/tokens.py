"""Signed, expiring links (itsdangerous): e-mail verification (and change of address), password reset, and the
one-time sign-in link mailed to the owner of a locked account."""
from __future__ import annotations

import hashlib

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from api.extensions import db
from api.settings import current_settings
from api.tables import User

_EMAIL_SALT = "mentorhub.email-verify"
_RESET_SALT = "mentorhub.password-reset"
_SIGN_IN_SALT = "mentorhub.sign-in-link"


class TokenError(ValueError):
    """A link that is expired, forged or already used; the message can be shown to the user."""


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _password_fingerprint(user: User) -> str:
    """Changes whenever the password does, so a reset link works once."""
    return hashlib.sha256((user.password_hash or "no-password").encode()).hexdigest()[:16]


def make_email_token(user: User, new_email: str | None = None) -> str:
    """A link for the account's address, or (new_email) for moving the account from its address to a new one."""
    data = {"uid": user.id, "email": user.email}
    if new_email:
        data["new"] = new_email
    return _serializer(_EMAIL_SALT).dumps(data)


def make_sign_in_token(user: User) -> str:
    return _serializer(_SIGN_IN_SALT).dumps({"uid": user.id, "sv": user.session_version,
                                             "fp": _password_fingerprint(user)})


def make_reset_token(user: User) -> str:
    return _serializer(_RESET_SALT).dumps({"uid": user.id, "fp": _password_fingerprint(user)})


def _load(salt: str, token: str, max_age: int, what: str) -> dict:
    try:
        data = _serializer(salt).loads(token, max_age=max_age)
    except SignatureExpired:
        raise TokenError(f"This {what} link has expired; ask for a new one.") from None
    except BadSignature:
        raise TokenError(f"This {what} link is not valid; check that you copied all of it.") from None
    if not isinstance(data, dict) or not isinstance(data.get("uid"), int):
        raise TokenError(f"This {what} link is not valid; check that you copied all of it.")
    return data


def user_for_email_token(token: str) -> tuple[User, str | None]:
    """The user whose current e-mail the token names, and the new address of a change (else None);
    TokenError when expired, forged, stale or used."""
    data = _load(_EMAIL_SALT, token, current_settings().email_token_max_age_seconds, "verification")
    user = db.session.get(User, data["uid"])
    if user is None or user.email != data.get("email"):
        raise TokenError("This verification link is for an address that is no longer on the account.")
    new_email = data.get("new")
    if isinstance(new_email, str) and new_email:
        return user, new_email
    if user.email_verified_at is not None:
        raise TokenError("This verification link has already been used; your e-mail is verified.")
    return user, None


def user_for_sign_in_token(token: str) -> User:
    """The user of a one-time sign-in link; it stops working once used (the session version moves on)."""
    data = _load(_SIGN_IN_SALT, token, current_settings().sign_in_link_max_age_seconds, "sign-in")
    user = db.session.get(User, data["uid"])
    if user is None or not user.is_active or data.get("sv") != user.session_version \
            or data.get("fp") != _password_fingerprint(user):
        raise TokenError("This sign-in link has already been used or is out of date; log in with your password.")
    return user


def user_for_reset_token(token: str) -> User:
    data = _load(_RESET_SALT, token, current_settings().password_reset_max_age_seconds, "password reset")
    user = db.session.get(User, data["uid"])
    if user is None or data.get("fp") != _password_fingerprint(user):
        raise TokenError("This password reset link has already been used; ask for a new one.")
    return user
