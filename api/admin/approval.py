"""Approving, rejecting, suspending and reinstating mentors; the mentor is told by e-mail; each is audited."""
from __future__ import annotations

import logging

from sqlalchemy import select

from api.addresses import external_url
from api.admin import audit
from api.auth.accounts import FieldError
from api.extensions import db
from api.notify import send_email
from api.notify.mail import MailError
from api.tables import MentorProfile, MentorStatus, User, utcnow

logger = logging.getLogger("mentorhub.admin")


def pending_mentors() -> list[MentorProfile]:
    """The queue, oldest first."""
    return list(db.session.scalars(
        select(MentorProfile).where(MentorProfile.status == MentorStatus.PENDING).order_by(MentorProfile.updated_at)
    ))


def _pending(user_id: int) -> MentorProfile:
    profile = db.session.get(MentorProfile, user_id)
    if profile is None:
        raise LookupError("No such mentor.")
    if profile.status != MentorStatus.PENDING:
        raise FieldError("status", f"This mentor is already {profile.status.value}.")
    return profile


def approve(user_id: int, admin_id: int) -> MentorProfile:
    profile = _pending(user_id)
    profile.status = MentorStatus.APPROVED
    profile.status_reason = None
    profile.reviewed_at = utcnow()
    audit.record("mentor.approve", "mentor", user_id, admin_id=admin_id, commit=False)
    db.session.commit()
    logger.info("mentor approved", extra={"user_id": user_id, "admin_id": admin_id})
    user = db.session.get(User, user_id)
    _notify(user, "Your MentorHub mentor profile is approved",
            f"Hello {user.full_name},\n\nGood news: your mentor profile is approved and learners can now find "
            f"and book you.\n\nSee your public page: {external_url('profiles.public_mentor', user_id=user_id)}\n")
    return profile


def reject(user_id: int, admin_id: int, reason: str) -> MentorProfile:
    reason = _reason(reason, "Give the mentor a reason (at least a few words) so they can fix their profile.")
    profile = _pending(user_id)
    profile.status = MentorStatus.REJECTED
    profile.status_reason = reason
    profile.reviewed_at = utcnow()
    audit.record("mentor.reject", "mentor", user_id, admin_id=admin_id, commit=False, reason=reason)
    db.session.commit()
    logger.info("mentor rejected", extra={"user_id": user_id, "admin_id": admin_id})
    user = db.session.get(User, user_id)
    _notify(user, "Your MentorHub mentor profile needs changes",
            f"Hello {user.full_name},\n\nWe could not approve your mentor profile yet. The reviewer wrote:\n\n"
            f"{reason}\n\nYou can edit and resubmit it here: {external_url('profiles.mentor')}\n")
    return profile


def _reason(reason: str | None, too_short: str) -> str:
    """The admin's reason, stripped: a few words at least, 2000 characters at most."""
    reason = (reason or "").strip()
    if len(reason) < 5:
        raise FieldError("reason", too_short)
    if len(reason) > 2000:
        raise FieldError("reason", "Keep the reason under 2000 characters.")
    return reason


def _mentor(user_id: int, status: MentorStatus, verb: str) -> MentorProfile:
    profile = db.session.get(MentorProfile, user_id)
    if profile is None:
        raise LookupError("No such mentor.")
    if profile.status != status:
        raise FieldError("status", f"Only {status.value} mentors can be {verb}; this one is {profile.status.value}.")
    return profile


def suspend(user_id: int, admin_id: int, reason: str) -> MentorProfile:
    """An approved mentor disappears from search and profiles until reinstated; they are told why."""
    reason = _reason(reason, "Give the mentor a reason (at least a few words).")
    profile = _mentor(user_id, MentorStatus.APPROVED, "suspended")
    profile.status = MentorStatus.SUSPENDED
    profile.status_reason = reason
    profile.reviewed_at = utcnow()
    audit.record("mentor.suspend", "mentor", user_id, admin_id=admin_id, commit=False, reason=reason)
    db.session.commit()
    logger.info("mentor suspended", extra={"user_id": user_id, "admin_id": admin_id})
    user = db.session.get(User, user_id)
    _notify(user, "Your MentorHub mentor profile is suspended",
            f"Hello {user.full_name},\n\nYour mentor profile is suspended and hidden from learners. The reason:\n\n"
            f"{reason}\n\nReply to this e-mail if you think this is a mistake.\n")
    return profile


def reinstate(user_id: int, admin_id: int) -> MentorProfile:
    """A suspended mentor is approved (visible and bookable) again."""
    profile = _mentor(user_id, MentorStatus.SUSPENDED, "reinstated")
    profile.status = MentorStatus.APPROVED
    profile.status_reason = None
    profile.reviewed_at = utcnow()
    audit.record("mentor.reinstate", "mentor", user_id, admin_id=admin_id, commit=False)
    db.session.commit()
    logger.info("mentor reinstated", extra={"user_id": user_id, "admin_id": admin_id})
    user = db.session.get(User, user_id)
    _notify(user, "Your MentorHub mentor profile is active again",
            f"Hello {user.full_name},\n\nYour mentor profile is visible to learners again.\n")
    return profile


def _notify(user: User, subject: str, text: str) -> None:
    try:
        send_email(user.email, subject, text, kind="mentor_review")
    except MailError:
        logger.error("mentor review e-mail not sent", extra={"user_id": user.id})
