"""Approving, rejecting, suspending and reinstating mentors; the mentor is told by e-mail; each is audited.
Also the learner-to-mentor upgrade criteria, changed by admins."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select

from api.addresses import external_url
from api.admin import audit
from api.auth.accounts import FieldError
from api.extensions import db
from api.notify import send_email
from api.notify.mail import MailError
from api.profiles import service as profiles
from api.profiles.upgrade import criteria, set_criteria
from api.tables import MentorProfile, MentorStatus, User, utcnow

logger = logging.getLogger("mentorhub.admin")


def pending_mentors() -> list[MentorProfile]:
    """The queue, oldest first."""
    return list(db.session.scalars(
        select(MentorProfile).where(MentorProfile.status == MentorStatus.PENDING).order_by(MentorProfile.updated_at)
    ))


def queue_items() -> list[dict]:
    """The queue with each mentor's account and profile as the mentor sees it (documents included)."""
    return [{"profile": profile, "user": db.session.get(User, profile.user_id),
             "mentor": profiles.mentor_json(profile, private=True)} for profile in pending_mentors()]


@dataclass(frozen=True)
class Decision:
    """One admin decision on a mentor: from which status to which, and how the mentor is told."""

    action: str  # the audit action, e.g. "mentor.approve"
    before: MentorStatus
    after: MentorStatus
    done: str  # "approved": the log line and the refusal of a mentor not in `before`
    subject: str
    letter: str  # the e-mail's text, formatted with name, reason and link
    needs_reason: str | None = None  # the message when the reason is missing; None: no reason


APPROVE = Decision(
    "mentor.approve", MentorStatus.PENDING, MentorStatus.APPROVED, "approved",
    "Your MentorHub mentor profile is approved",
    "Hello {name},\n\nGood news: your mentor profile is approved and learners can now find "
    "and book you.\n\nSee your public page: {link}\n")
REJECT = Decision(
    "mentor.reject", MentorStatus.PENDING, MentorStatus.REJECTED, "rejected",
    "Your MentorHub mentor profile needs changes",
    "Hello {name},\n\nWe could not approve your mentor profile yet. The reviewer wrote:\n\n"
    "{reason}\n\nYou can edit and resubmit it here: {link}\n",
    needs_reason="Give the mentor a reason (at least a few words) so they can fix their profile.")
SUSPEND = Decision(
    "mentor.suspend", MentorStatus.APPROVED, MentorStatus.SUSPENDED, "suspended",
    "Your MentorHub mentor profile is suspended",
    "Hello {name},\n\nYour mentor profile is suspended and hidden from learners. The reason:\n\n"
    "{reason}\n\nReply to this e-mail if you think this is a mistake.\n",
    needs_reason="Give the mentor a reason (at least a few words).")
REINSTATE = Decision(
    "mentor.reinstate", MentorStatus.SUSPENDED, MentorStatus.APPROVED, "reinstated",
    "Your MentorHub mentor profile is active again",
    "Hello {name},\n\nYour mentor profile is visible to learners again.\n")


def approve(user_id: int, admin_id: int) -> MentorProfile:
    """A pending mentor becomes visible to learners."""
    return _decide(APPROVE, user_id, admin_id, link=lambda: external_url("profiles.public_mentor", user_id=user_id))


def reject(user_id: int, admin_id: int, reason: str) -> MentorProfile:
    """A pending mentor is told what to fix."""
    return _decide(REJECT, user_id, admin_id, reason, link=lambda: external_url("profiles.mentor"))


def suspend(user_id: int, admin_id: int, reason: str) -> MentorProfile:
    """An approved mentor disappears from search and profiles until reinstated; they are told why."""
    return _decide(SUSPEND, user_id, admin_id, reason)


def reinstate(user_id: int, admin_id: int) -> MentorProfile:
    """A suspended mentor is approved (visible and bookable) again."""
    return _decide(REINSTATE, user_id, admin_id)


def _decide(decision: Decision, user_id: int, admin_id: int, reason: str | None = None, link=None) -> MentorProfile:
    """Check, store and audit the decision in one transaction, then e-mail the mentor.
    Raises LookupError (no such mentor) or FieldError (a missing reason, a mentor in another status)."""
    if decision.needs_reason is not None:
        reason = _reason(reason, decision.needs_reason)
    profile = _mentor(user_id, decision)
    profile.status = decision.after
    profile.status_reason = reason
    profile.reviewed_at = utcnow()
    audit.record(decision.action, "mentor", user_id, admin_id=admin_id, commit=False, reason=reason)
    db.session.commit()
    logger.info("mentor %s", decision.done, extra={"user_id": user_id, "admin_id": admin_id})
    user = db.session.get(User, user_id)
    text = decision.letter.format(name=user.full_name, reason=reason, link=link() if link else "")
    _notify(user, decision.subject, text)
    return profile


def _reason(reason: str | None, too_short: str) -> str:
    """The admin's reason, stripped: a few words at least, 2000 characters at most."""
    reason = (reason or "").strip()
    if len(reason) < 5:
        raise FieldError("reason", too_short)
    if len(reason) > 2000:
        raise FieldError("reason", "Keep the reason under 2000 characters.")
    return reason


def _mentor(user_id: int, decision: Decision) -> MentorProfile:
    profile = db.session.get(MentorProfile, user_id)
    if profile is None:
        raise LookupError("No such mentor.")
    if profile.status != decision.before:
        if decision.before is MentorStatus.PENDING:
            raise FieldError("status", f"This mentor is already {profile.status.value}.")
        raise FieldError("status", f"Only {decision.before.value} mentors can be {decision.done}; "
                                   f"this one is {profile.status.value}.")
    return profile


def _notify(user: User, subject: str, text: str) -> None:
    try:
        send_email(user.email, subject, text, kind="mentor_review")
    except MailError:
        logger.error("mentor review e-mail not sent", extra={"user_id": user.id})


def set_upgrade_criteria(values: dict, admin_id: int) -> dict:
    """Change the learner-to-mentor upgrade criteria and audit what changed."""
    before = criteria()
    after = set_criteria(values, admin_id)
    audit.record("upgrade_criteria.update", "setting", "upgrade_criteria", admin_id=admin_id,
                 changed={k: {"from": before.get(k), "to": v} for k, v in after.items() if before.get(k) != v})
    return after
