"""Phone one-time codes: 6 digits from `secrets`, stored as an HMAC, 10-minute expiry, single use, 5 attempts."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from api.extensions import db
from api.settings import current_settings
from api.tables import PhoneVerification, User, utcnow


class OtpError(ValueError):
    """A wrong, expired, used or exhausted code; the message can be shown next to the code field."""


def generate_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def _digest(user_id: int, phone: str, code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"otp:{user_id}:{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def issue_code(user: User) -> str:
    """A fresh code for the user's phone; earlier unused codes stop working. The caller sends and commits."""
    settings = current_settings()
    now = utcnow()
    for old in db.session.scalars(
        select(PhoneVerification).where(PhoneVerification.user_id == user.id, PhoneVerification.used_at.is_(None))
    ):
        old.used_at = now
    code = generate_code()
    db.session.add(PhoneVerification(
        user_id=user.id, phone=user.phone, code_hash=_digest(user.id, user.phone, code), attempts=0,
        expires_at=now + timedelta(seconds=settings.otp_ttl_seconds),
    ))
    return code


def check_code(user: User, code: str) -> None:
    """Mark the phone verified, or raise OtpError. Commits either way (attempts count)."""
    settings = current_settings()
    code = (code or "").strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        raise OtpError("Enter the 6-digit code from the text message.")
    latest = db.session.scalars(
        select(PhoneVerification).where(PhoneVerification.user_id == user.id)
        .order_by(PhoneVerification.id.desc()).limit(1)
    ).first()
    if latest is None or latest.phone != user.phone:
        raise OtpError("No code has been sent to this number yet; ask for a code first.")
    now = utcnow()
    if latest.used_at is not None:
        raise OtpError("This code has already been used; ask for a new code.")
    if latest.expires_at <= now:
        raise OtpError("This code has expired; ask for a new code.")
    # claim one attempt atomically, so parallel guesses cannot exceed the limit
    claimed = db.session.execute(
        update(PhoneVerification)
        .where(PhoneVerification.id == latest.id, PhoneVerification.attempts < settings.otp_max_attempts,
               PhoneVerification.used_at.is_(None))
        .values(attempts=PhoneVerification.attempts + 1)
    ).rowcount
    db.session.commit()
    if not claimed:
        raise OtpError("Too many wrong codes; ask for a new code.")
    db.session.refresh(latest)
    if not hmac.compare_digest(latest.code_hash, _digest(user.id, user.phone, code)):
        left = settings.otp_max_attempts - latest.attempts
        if left <= 0:
            raise OtpError("Wrong code, and that was the last attempt; ask for a new code.")
        raise OtpError(f"Wrong code; {left} attempt{'s' if left != 1 else ''} left.")
    used = db.session.execute(
        update(PhoneVerification).where(PhoneVerification.id == latest.id, PhoneVerification.used_at.is_(None))
        .values(used_at=now)
    ).rowcount
    if not used:
        db.session.rollback()
        raise OtpError("This code has already been used; ask for a new code.")
    user.phone_verified_at = now
    db.session.commit()
