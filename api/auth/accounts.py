"""Account operations shared by the web pages and the JSON API: sign-up, sessions, passwords, verification."""
from __future__ import annotations

import logging

from blinker import signal
from flask import current_app, session
from flask_login import login_user, logout_user
from sqlalchemy import func, select

from api.addresses import external_url
from api.auth import otp, tokens
from api.auth.passwords import hash_password, needs_rehash, verify_password
from api.auth.validation import (
    check_full_name,
    check_password_strength,
    normalise_email,
    normalise_phone,
)
from api.extensions import db
from api.notify import send_email, send_sms
from api.notify.mail import MailError
from api.tables import Role, User, UserRole, utcnow

logger = logging.getLogger("mentorhub.auth")
# sent with the user once every earlier session of theirs has ended (committed); the chat closes their sockets
sessions_ended = signal("mentorhub.sessions-ended")

_dummy_hashes: dict[tuple, str] = {}


def _spend_one_verification(password: str) -> None:
    """Verify against a dummy hash when there is no account, so both paths cost the same."""
    settings = _settings()
    key = (settings.argon2_time_cost, settings.argon2_memory_cost_kib, settings.argon2_parallelism)
    if key not in _dummy_hashes:
        _dummy_hashes[key] = hash_password("not-a-real-password-0f3c")
    verify_password(_dummy_hashes[key], password or "")

SIGNUP_ROLES = (Role.LEARNER.value, Role.MENTOR.value)


class FieldError(ValueError):
    """Bad input for one field: `field` names it, the message says what to do."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _settings():
    return current_app.config["MENTORHUB_SETTINGS"]


def _check(field: str, check, *args, **kwargs):
    try:
        return check(*args, **kwargs)
    except ValueError as error:
        raise FieldError(field, str(error)) from None


def email_taken(email: str, *, except_user_id: int | None = None) -> bool:
    query = select(User.id).where(func.lower(User.email) == email.lower())
    if except_user_id is not None:
        query = query.where(User.id != except_user_id)
    return db.session.scalar(query) is not None


def create_account(*, email: str, phone: str, password: str, full_name: str, role: str) -> User:
    """A new, unverified account with the chosen role; raises FieldError naming the bad field."""
    full_name = _check("full_name", check_full_name, full_name)
    email = _check("email", normalise_email, email)
    phone = _check("phone", normalise_phone, phone)
    _check("password", check_password_strength, password, email=email, full_name=full_name)
    if role not in SIGNUP_ROLES:
        raise FieldError("role", "Choose whether you want to learn or to teach.")
    if email_taken(email):
        raise FieldError("email", "An account with this e-mail address already exists; log in or reset the password.")
    user = User(email=email, phone=phone, full_name=full_name, password_hash=hash_password(password))
    user.roles = [UserRole(role=Role(role))]
    db.session.add(user)
    db.session.commit()
    logger.info("account created", extra={"user_id": user.id})
    return user


def authenticate(email: str, password: str) -> User | None:
    """The active user with this e-mail and password, rehashing an outdated hash; None otherwise."""
    try:
        email = normalise_email(email)
    except ValueError:
        _spend_one_verification(password)
        return None
    user = db.session.scalar(select(User).where(func.lower(User.email) == email))
    if user is None or not user.password_hash:
        _spend_one_verification(password)
        return None
    if not verify_password(user.password_hash, password or ""):
        return None
    if not user.is_active:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        db.session.commit()
        logger.info("password rehashed with current parameters", extra={"user_id": user.id})
    return user


def start_session(user: User) -> None:
    """A brand-new session for the user (no data survives from before the login)."""
    session.clear()
    login_user(user, remember=False)
    session.permanent = True


def end_all_sessions(user: User) -> None:
    """Every existing session of the user stops working (the session version moves on)."""
    user.session_version = (user.session_version or 1) + 1


def log_out(user: User) -> None:
    end_all_sessions(user)
    db.session.commit()
    sessions_ended.send(user)
    logout_user()
    session.clear()


def change_password(user: User, current_password: str, new_password: str) -> None:
    if not verify_password(user.password_hash, current_password or ""):
        raise FieldError("current_password", "The current password is not correct.")
    set_password(user, new_password)


def set_password(user: User, new_password: str) -> None:
    """Store a new password and end every other session; the current one is renewed."""
    _check("new_password", check_password_strength, new_password, email=user.email, full_name=user.full_name)
    user.password_hash = hash_password(new_password)
    end_all_sessions(user)
    db.session.commit()
    sessions_ended.send(user)
    logger.info("password changed", extra={"user_id": user.id})


def is_verified(user: User) -> bool:
    """Verified e-mail, and phone too unless settings say otherwise: needed to book or message."""
    if user.email_verified_at is None:
        return False
    if _settings().verification_requires_phone and user.phone_verified_at is None:
        return False
    return True


def send_verification_email(user: User) -> bool:
    """E-mail the verification link; False when the mail server failed (the user may resend)."""
    link = external_url("auth.verify_email", token=tokens.make_email_token(user))
    hours = _settings().email_token_max_age_seconds // 3600
    text = (f"Hello {user.full_name},\n\nPlease confirm your e-mail address for MentorHub by opening this link:\n\n"
            f"{link}\n\nThe link works for {hours} hours. If you did not sign up, ignore this message.\n")
    return _send(user.email, "Confirm your e-mail address", text, kind="verify_email")


def send_reset_email(user: User) -> bool:
    link = external_url("auth.reset_password", token=tokens.make_reset_token(user))
    minutes = _settings().password_reset_max_age_seconds // 60
    text = (f"Hello {user.full_name},\n\nSomeone (hopefully you) asked to reset your MentorHub password. "
            f"Choose a new one here:\n\n{link}\n\nThe link works once, for {minutes} minutes. "
            "If you did not ask for it, ignore this message: your password stays the same.\n")
    return _send(user.email, "Reset your MentorHub password", text, kind="password_reset")


def _send(to: str, subject: str, text: str, *, kind: str) -> bool:
    try:
        send_email(to, subject, text, kind=kind)
        return True
    except MailError:
        return False


def send_phone_code(user: User) -> None:
    if not user.phone:
        raise FieldError("phone", "Add a phone number to your account first.")
    code = otp.issue_code(user)
    db.session.commit()
    minutes = _settings().otp_ttl_seconds // 60
    send_sms(user.phone, f"Your MentorHub code is {code}. It expires in {minutes} minutes.", kind="phone_otp")


def verify_phone(user: User, code: str) -> None:
    try:
        otp.check_code(user, code)
    except otp.OtpError as error:
        raise FieldError("code", str(error)) from None


def verify_email_token(token: str) -> User:
    try:
        user = tokens.user_for_email_token(token)
    except tokens.TokenError as error:
        raise FieldError("token", str(error)) from None
    user.email_verified_at = utcnow()
    db.session.commit()
    return user


def user_for_reset(token: str) -> User:
    try:
        return tokens.user_for_reset_token(token)
    except tokens.TokenError as error:
        raise FieldError("token", str(error)) from None


def find_by_email(email: str) -> User | None:
    try:
        email = normalise_email(email)
    except ValueError:
        return None
    return db.session.scalar(select(User).where(func.lower(User.email) == email))
