"""The admin panel's code step (api.auth.twofactor), audited: enrolment, sign-in and wrong codes."""
from __future__ import annotations

from api.admin import audit
from api.auth import twofactor
from api.redirects import safe_next
from api.tables import User


def submit_code(user: User, code: str | None, enrolled: bool) -> tuple[bool, int, str]:
    """One code attempt of the pending admin (counted on the server, one try per cookie): (passed, attempts
    left, the safe page asked for before the password step or ""). A right code starts the admin session."""
    passed, left = twofactor.submit_code(user, code)
    if not passed:
        audit.record("admin.totp_failed", "user", user.id, admin_id=user.id, attempts_left=left)
        return False, left, ""
    next_url = safe_next(twofactor.pending_next())
    twofactor.start_admin_session(user)
    if not enrolled:
        audit.record("admin.totp_enrol", "user", user.id, admin_id=user.id, commit=False)
    audit.record("admin.sign_in", "user", user.id, admin_id=user.id)
    return True, left, next_url or ""
