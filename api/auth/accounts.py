"""Account operations shared by the web pages and the JSON API: sign-up, sessions, passwords, verification."""
from __future__ import annotations

import logging

from blinker import signal
from flask import session
from flask_login import login_user, logout_user
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from api.addresses import external_url
from api.auth import limits, otp, throttle, tokens
from api.auth.limits import LimitReached
from api.auth.passwords import hash_password, needs_rehash, verify_password
from api.auth.validation import (
    check_full_name,
    check_password_strength,
    normalise_email,
    normalise_phone,
)
from api.extensions import db
from api.money import default_currency
from api.notify import send_email, send_sms
from api.notify.mail import MailError
from api.settings import current_settings
from api.tables import Role, User, UserRole, utcnow

logger = logging.getLogger("mentorhub.auth")
# sent with the user once every earlier session of theirs has ended (committed); the chat closes their sockets
sessions_ended = signal("mentorhub.sessions-ended")

_dummy_hashes: dict[tuple, str] = {}


def _spend_one_verification(password: str) -> None:
    """Verify against a dummy hash when there is no account, so both paths cost the same."""
    settings = current_settings()
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


SIGNUP_MESSAGE = ("Almost done: we have sent a message to {email}. Open the link in it to finish signing up; "
                  "it works for {hours} hours.")


def sign_up(*, email: str, phone: str, password: str, full_name: str, role: str) -> str:
    """Start a sign-up; returns the message to show, the same whether or not the address is registered.

    A new address gets a new, unverified account and the verification link (which logs in and texts the phone
    code); a registered one gets a note to its owner instead, and nothing else changes. No session starts here,
    so the answer (body, status, cookies) tells nothing about who has an account. Raises FieldError for bad input.
    """
    full_name = _check("full_name", check_full_name, full_name)
    email = _check("email", normalise_email, email)
    phone = _check("phone", normalise_phone, phone)
    _check("password", check_password_strength, password, email=email, full_name=full_name)
    if role not in SIGNUP_ROLES:
        raise FieldError("role", "Choose whether you want to learn or to teach.")
    message = SIGNUP_MESSAGE.format(email=email, hours=current_settings().email_token_max_age_seconds // 3600)
    password_hash = hash_password(password)  # the same work either way
    owner = find_by_email(email)
    if owner is None:
        user = User(email=email, phone=phone, full_name=full_name, password_hash=password_hash,
                    currency=default_currency(None, phone))
        user.roles = [UserRole(role=Role(role))]
        db.session.add(user)
        try:
            db.session.commit()
        except IntegrityError:  # the same address signed up at the same moment
            db.session.rollback()
            return message
        logger.info("account created", extra={"user_id": user.id})
        try:
            send_verification_email(user)
        except LimitReached:
            pass
        return message
    _tell_owner_of_sign_up(owner)
    return message


def _tell_owner_of_sign_up(owner: User) -> None:
    try:
        throttle.count_email(owner.id)
    except LimitReached:
        return  # the owner has been told recently
    link = external_url("auth.forgot_password")
    text = (f"Hello {owner.full_name},\n\nSomeone (hopefully you) tried to sign up for MentorHub with this e-mail "
            f"address, which already has an account. If it was you, log in; if you forgot the password, choose a "
            f"new one here:\n\n{link}\n\nIf it was not you, you can ignore this message: nothing has changed.\n")
    _send(owner.email, "You already have a MentorHub account", text, kind="signup_existing")


def check_login(email: str, password: str) -> User | None:
    """One log-in attempt: counted before the password is checked (LimitReached beyond the limits; the owner of
    an account locked by them is mailed a one-time sign-in link), given back when it succeeds."""
    try:
        attempt = throttle.begin_login(email)
    except throttle.AccountLocked as locked:
        _mail_sign_in_link(locked.email)
        raise
    user = authenticate(email, password)
    if user is not None:
        attempt.succeeded()
    return user


def _mail_sign_in_link(email: str) -> None:
    """The account's owner gets a one-time sign-in link, at most once per lock window (the answer is the same
    whether or not the account exists)."""
    user = find_by_email(email)
    if user is None or not user.is_active:
        return
    count, _ = limits.hit(limits.key("sign-in-link-mail", user.id), current_settings().login_limit_per_account)
    if count == 1:
        send_sign_in_link(user)


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
    confirm_current_password(user, current_password, "The current password is not correct.")
    set_password(user, new_password)


def confirm_current_password(user: User, password: str | None, wrong_message: str) -> None:
    """The account's current password, for a change that could take the account over: wrong guesses are counted
    per account (at most login_limit_per_account), so a stolen session cannot guess its way to the password."""
    counter_key = limits.key("confirm-password", user.id)
    limits.check(counter_key, current_settings().login_limit_per_account,
                 "Too many wrong passwords; wait a while before trying again.", "current_password")
    if not user.password_hash or not verify_password(user.password_hash, password or ""):
        raise FieldError("current_password", wrong_message)
    limits.refund(counter_key)


def set_password(user: User, new_password: str, *, mailbox_proven: bool = False) -> None:
    """Store a new password and end every other session; the current one is renewed. `mailbox_proven`: the
    password is set through a link mailed to the account's address, which is then verified too."""
    _check("new_password", check_password_strength, new_password, email=user.email, full_name=user.full_name)
    user.password_hash = hash_password(new_password)
    if mailbox_proven and user.email_verified_at is None:
        user.email_verified_at = utcnow()
    end_all_sessions(user)
    db.session.commit()
    sessions_ended.send(user)
    logger.info("password changed", extra={"user_id": user.id})


def is_verified(user: User) -> bool:
    """Verified e-mail, and phone too unless settings say otherwise: needed to book or message."""
    if user.email_verified_at is None:
        return False
    if current_settings().verification_requires_phone and user.phone_verified_at is None:
        return False
    return True


def send_verification_email(user: User) -> bool:
    """E-mail the verification link; False when the mail server failed (the user may resend).
    Counted per account (LimitReached beyond `email_send_limit`)."""
    throttle.count_email(user.id)
    link = external_url("auth.verify_email", token=tokens.make_email_token(user))
    hours = current_settings().email_token_max_age_seconds // 3600
    text = (f"Hello {user.full_name},\n\nPlease confirm your e-mail address for MentorHub by opening this link:\n\n"
            f"{link}\n\nThe link works for {hours} hours. If you did not sign up, ignore this message.\n")
    return _send(user.email, "Confirm your e-mail address", text, kind="verify_email")


def request_email_change(user: User, new_email: str) -> None:
    """The address changes only when the link mailed to the new one is opened; the old one is told now.
    (A new address that another account uses gets a note instead of the link; the answer is the same.)"""
    hours = current_settings().email_token_max_age_seconds // 3600
    if email_taken(new_email, except_user_id=user.id):
        text = ("Hello,\n\nSomeone tried to move another MentorHub account to this e-mail address, which already "
                "has an account, so nothing has changed. If it was you, log in to that account instead.\n")
        _send(new_email, "Your MentorHub address", text, kind="email_change_refused")
    else:
        link = external_url("auth.verify_email", token=tokens.make_email_token(user, new_email=new_email))
        text = (f"Hello {user.full_name},\n\nPlease confirm that your MentorHub account should use this e-mail "
                f"address by opening this link:\n\n{link}\n\nThe link works for {hours} hours; until then the "
                "account keeps its old address. If you did not ask for this, ignore this message.\n")
        _send(new_email, "Confirm your new e-mail address", text, kind="verify_email")
    masked = new_email[0] + "***@" + new_email.split("@", 1)[1]
    text = (f"Hello {user.full_name},\n\nSomeone asked to change the e-mail address of your MentorHub account to "
            f"{masked}. The change happens only if the link sent there is opened within {hours} hours.\n\n"
            "If it was not you, change your password now (or reset it from the log-in page): "
            "your account keeps this address.\n")
    _send(user.email, "Your MentorHub e-mail address is being changed", text, kind="email_change_notice")
    logger.info("e-mail change requested", extra={"user_id": user.id})


def send_sign_in_link(user: User) -> bool:
    """A one-time link that logs the owner of a locked account in (admins still enter their code)."""
    link = external_url("auth.sign_in_link", token=tokens.make_sign_in_token(user))
    minutes = current_settings().sign_in_link_max_age_seconds // 60
    text = (f"Hello {user.full_name},\n\nThere were many failed attempts to log in to your MentorHub account, "
            "so log-in with the password is paused for the networks they came from. If you want to log in "
            f"now, use this one-time link (it works for {minutes} minutes and ends every other session):\n\n"
            f"{link}\n\nIf the attempts were not yours, consider choosing a new password.\n")
    return _send(user.email, "Your MentorHub sign-in link", text, kind="sign_in_link")


def use_sign_in_link(token: str) -> User:
    """The user the one-time sign-in link names; the link (and every other session) stops working."""
    try:
        user = tokens.user_for_sign_in_token(token)
    except tokens.TokenError as error:
        raise FieldError("token", str(error)) from None
    end_all_sessions(user)
    db.session.commit()
    logger.info("signed in with a mailed link", extra={"user_id": user.id})
    return user


def send_reset_email(user: User) -> bool:
    link = external_url("auth.reset_password", token=tokens.make_reset_token(user))
    minutes = current_settings().password_reset_max_age_seconds // 60
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


def send_phone_code(user: User, *, counted: bool = False) -> None:
    """Text a new code to the account's phone; counted per account, whatever the number (LimitReached beyond
    `otp_send_limit`), unless the caller `counted` it already."""
    if not user.phone:
        raise FieldError("phone", "Add a phone number to your account first.")
    if not counted:
        throttle.count_sms(user.id)
    code = otp.issue_code(user)
    db.session.commit()
    minutes = current_settings().otp_ttl_seconds // 60
    send_sms(user.phone, f"Your MentorHub code is {code}. It expires in {minutes} minutes.", kind="phone_otp")


def change_phone(user: User, phone: str) -> None:
    """A new phone number, to be verified again, and a code texted to it; counted per account before anything
    changes (LimitReached beyond `otp_send_limit`)."""
    phone = _check("phone", normalise_phone, phone)
    throttle.count_sms(user.id)
    if phone != user.phone:
        user.phone = phone
        user.phone_verified_at = None
    send_phone_code(user, counted=True)  # commits the number with its new code


def verify_phone(user: User, code: str) -> None:
    """Check the code; guesses are counted per account over every code sent (LimitReached beyond the limit)."""
    counter_key = throttle.begin_code_check(user.id)
    try:
        otp.check_code(user, code)
    except otp.OtpError as error:
        raise FieldError("code", str(error)) from None
    limits.refund(counter_key)


def verify_email_token(token: str) -> tuple[User, bool]:
    """Verify the address the link names: (user, whether it was a change of address). A sign-up's link proves
    the mailbox, so the caller may log the user in; a change's link only moves the account to the new address."""
    try:
        user, new_email = tokens.user_for_email_token(token)
    except tokens.TokenError as error:
        raise FieldError("token", str(error)) from None
    if new_email is not None:
        if email_taken(new_email, except_user_id=user.id):
            raise FieldError("token", "Another account uses this address now; nothing has changed.")
        user.email = new_email
        logger.info("e-mail address changed", extra={"user_id": user.id})
    user.email_verified_at = utcnow()
    db.session.commit()
    return user, new_email is not None


def after_sign_up_verified(user: User) -> None:
    """The sign-up's link was opened: log in (not admins: they sign in with their code) and text the phone code."""
    if user.has_role(Role.ADMIN) or not user.is_active:
        return
    start_session(user)
    if user.phone and user.phone_verified_at is None:
        try:
            send_phone_code(user)
        except (FieldError, LimitReached):
            pass


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
