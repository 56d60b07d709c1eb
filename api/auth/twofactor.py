"""Admins' TOTP two-factor sign-in (pyotp): enrolment, the code step after the password, the session mark.

The password step does not log an admin in: it leaves a short-lived "pending" note in the session,
and only a correct code from the authenticator app starts the session (`start_admin_session`).
The session then carries a mark naming the user and session version, which `admin_required`
(api.auth.decorators) checks. The code step's page is the admin panel's /admin/2fa (api.admin.routes).
A code works once (the last accepted time step is claimed atomically), and the secret is stored encrypted.

Nothing the client holds counts attempts: the pending note names a one-time nonce kept on the server, which
each code attempt claims (a replayed or copied cookie is worthless once used; a wrong code renews it), and
wrong codes are counted per account on the server (api.auth.limits) before the code is checked: after
`admin_totp_max_attempts` of them the code step is locked for `admin_totp_lock_seconds`, whatever the cookie.
"""
from __future__ import annotations

import base64
import hashlib
import secrets
import time

import pyotp
import segno
from cryptography.fernet import Fernet
from flask import current_app, redirect, session, url_for
from markupsafe import Markup
from sqlalchemy import or_, select, update

from api.auth import limits
from api.auth.accounts import start_session
from api.auth.limits import LimitReached
from api.extensions import db
from api.settings import current_settings
from api.tables import AdminTotp, Role, User, utcnow

PENDING_KEY = "admin_2fa_pending"
PASSED_KEY = "admin_2fa"


def _fernet() -> Fernet:
    digest = hashlib.sha256(b"mentorhub-admin-totp:" + current_app.config["SECRET_KEY"].encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _secret(row: AdminTotp) -> str:
    return _fernet().decrypt(row.secret_encrypted.encode()).decode()


def totp_row(user_id: int) -> AdminTotp | None:
    return db.session.scalar(select(AdminTotp).where(AdminTotp.user_id == user_id))


def is_enrolled(user: User) -> bool:
    row = totp_row(user.id)
    return row is not None and row.confirmed_at is not None


def enrolment_secret(user: User) -> str:
    """The secret to show while enrolling: made once, kept until confirmed (a reload shows the same one)."""
    row = totp_row(user.id)
    if row is not None and row.confirmed_at is not None:
        raise ValueError("already enrolled")
    if row is None:
        row = AdminTotp(user_id=user.id, secret_encrypted=_fernet().encrypt(pyotp.random_base32().encode()).decode())
        db.session.add(row)
        db.session.commit()
    return _secret(row)


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=current_settings().admin_totp_issuer)


def qr_svg(uri: str):
    """The otpauth:// link as a QR code in inline SVG (segno, drawn on the server: no script, no image request)."""
    svg = segno.make(uri, error="m", micro=False).svg_inline(
        scale=1, border=4, dark="#000", light="#fff", svgclass="totp-qr", omitsize=True,
        title="QR code to add MentorHub to your authenticator app")
    return Markup(svg.replace("<svg ", '<svg role="img" aria-labelledby="totp-qr-title" ', 1)
                  .replace("<title>", '<title id="totp-qr-title">', 1))


def set_secret(user_id: int, secret: str, *, confirmed: bool = True) -> None:
    """Store a known secret (the `mentorhub` CLI and tests); confirmed unless told otherwise."""
    row = totp_row(user_id) or AdminTotp(user_id=user_id, secret_encrypted="")
    row.secret_encrypted = _fernet().encrypt(secret.encode()).decode()
    row.confirmed_at = utcnow() if confirmed else None
    row.last_counter = None
    db.session.add(row)
    db.session.commit()


def reset(user_id: int) -> None:
    """Forget an admin's secret: they enrol again at their next sign-in."""
    row = totp_row(user_id)
    if row is not None:
        db.session.delete(row)
        db.session.commit()


def check_code(user: User, code: str | None, now: float | None = None) -> bool:
    """True for a current, unused code of the user's secret; confirms an enrolment. Commits.

    The code's time step is claimed with one conditional UPDATE, so two requests with the same code (a replay,
    or a race) cannot both pass."""
    row = totp_row(user.id)
    code = (code or "").strip().replace(" ", "")
    if row is None or len(code) != 6 or not code.isdigit():
        return False
    totp = pyotp.TOTP(_secret(row))
    now = time.time() if now is None else now
    window = current_settings().admin_totp_valid_window
    current = int(now) // totp.interval
    for counter in range(current - window, current + window + 1):
        if row.last_counter is not None and counter <= row.last_counter:
            continue  # a code is good once: no replay of an observed code
        if pyotp.utils.strings_equal(totp.generate_otp(counter), code):
            claimed = db.session.execute(
                update(AdminTotp).where(AdminTotp.user_id == user.id,
                                        or_(AdminTotp.last_counter.is_(None), AdminTotp.last_counter < counter))
                .values(last_counter=counter)
            ).rowcount
            if not claimed:
                db.session.rollback()
                return False
            db.session.refresh(row)
            if row.confirmed_at is None:
                row.confirmed_at = utcnow()
            db.session.commit()
            return True
    return False


def _attempts_key(user: User) -> str:
    return limits.key("admin-totp", user.id)


def _attempts_limit() -> limits.Limit:
    settings = current_settings()
    return limits.Limit(settings.admin_totp_max_attempts, settings.admin_totp_lock_seconds)


LOCKED_MESSAGE = "Too many wrong codes: the code step is locked for a while; try again later."


def verify_code(user: User, code: str | None) -> bool:
    """`check_code`, counted per account on the server before the check (a right code clears the count);
    raises LimitReached while the step is locked. An empty code is not an attempt."""
    if not (code or "").strip():
        return False
    counter_key = _attempts_key(user)
    limits.check(counter_key, _attempts_limit(), LOCKED_MESSAGE, "totp_code")
    if check_code(user, code):
        limits.clear(counter_key)
        return True
    return False


def attempts_left(user: User) -> int:
    return max(0, current_settings().admin_totp_max_attempts - limits.current(_attempts_key(user)))


# --- the session --------------------------------------------------------------------------------

def _marker(user: User) -> str:
    return f"{user.id}:{user.session_version}"


def _nonce_key(nonce: str) -> str:
    return limits.key("admin-2fa-nonce", nonce)


def _new_note(user: User, next_url: str) -> None:
    nonce = secrets.token_urlsafe(24)
    limits.put_nonce(_nonce_key(nonce), current_settings().admin_totp_pending_seconds)
    session[PENDING_KEY] = {"marker": _marker(user), "at": int(time.time()), "next": next_url, "nonce": nonce}


def begin_second_step(user: User, next_url: str | None = None):
    """After a correct password: no session yet, only a note (with a one-time nonce) that the code step may follow."""
    session.clear()
    _new_note(user, next_url or "")
    return redirect(url_for("admin.two_factor"))


def pending_user() -> User | None:
    """The admin between the password and the code steps, while the note is fresh and its nonce unused."""
    note = session.get(PENDING_KEY)
    if not isinstance(note, dict):
        return None
    if time.time() - note.get("at", 0) > current_settings().admin_totp_pending_seconds \
            or not limits.nonce_alive(_nonce_key(str(note.get("nonce", "")))):
        session.pop(PENDING_KEY, None)
        return None
    user_id, _, version = str(note.get("marker", "")).partition(":")
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    if user is None or str(user.session_version) != version or not user.is_active:
        return None
    return user if user.has_role(Role.ADMIN) else None


def submit_code(user: User, code: str | None) -> tuple[bool, int]:
    """One code attempt of the pending admin: (passed, attempts left); 0 left means start again with the password.

    The note's nonce is claimed first, so a cookie carries one attempt only; a wrong code gets a new note."""
    note = dict(session.get(PENDING_KEY) or {})
    if not limits.claim_nonce(_nonce_key(str(note.get("nonce", "")))):
        session.pop(PENDING_KEY, None)
        return False, 0
    try:
        if verify_code(user, code):
            return True, attempts_left(user)
    except LimitReached:
        session.pop(PENDING_KEY, None)
        return False, 0
    left = attempts_left(user)
    if left <= 0:
        session.pop(PENDING_KEY, None)
        return False, 0
    _new_note(user, note.get("next", ""))
    return False, left


def pending_next() -> str:
    return (session.get(PENDING_KEY) or {}).get("next", "")


def start_admin_session(user: User) -> None:
    """Log the admin in after the second factor and mark the session as having passed it."""
    start_session(user)
    session[PASSED_KEY] = _marker(user)


def passed(user) -> bool:
    """Did this session pass the second factor (for this user and session version)?"""
    return bool(user and user.is_authenticated and session.get(PASSED_KEY) == _marker(user))
