"""Moderation from the admin panel: reported reviews and chat messages, hiding, deleting, muting and banning.

The rules are the features' own (api.reviews.service, api.chat.moderation); each action here is also audited.
"""
from __future__ import annotations

import sqlalchemy as sa

from api.admin import audit
from api.chat import moderation as chat_moderation
from api.extensions import db
from api.reviews.service import reported_reviews, review_json, set_hidden
from api.tables import ChatRoom, ReviewReport, User

REVIEW_ACTIONS = ("hide", "unhide")
MESSAGE_ACTIONS = ("delete", "dismiss")
USER_ACTIONS = ("mute", "unmute", "ban", "unban")


def open_count() -> int:
    """Reported reviews and open message reports, for the panel's home."""
    return len(reported_reviews()) + len(chat_moderation.open_reports())


def _name(user_id: int | None) -> str | None:
    user = db.session.get(User, user_id) if user_id is not None else None
    return user.full_name if user else None


def _reported_review(review) -> dict:
    reasons = [r for (r,) in db.session.execute(sa.select(ReviewReport.reason).where(
        ReviewReport.review_id == review.id).limit(5)).all() if r]
    return {**review_json(review), "reported_count": review.reported_count, "reasons": reasons,
            "author": _name(review.learner_id), "mentor": _name(review.mentor_id)}


def _reported_message(report, message, room) -> dict:
    return {"report_id": report.id, "message_id": message.id, "body": message.body,
            "deleted": message.deleted_at is not None, "reason": report.reason,
            "room_id": room.id, "room": room.name, "room_kind": room.kind,
            "sender_id": message.sender_id, "sender": _name(message.sender_id),
            "reported_at": report.created_at.isoformat()}


def queue() -> tuple[list[dict], list[dict]]:
    """(reported reviews, visible and most reported first; open message reports)."""
    reviews = [_reported_review(review) for review in reported_reviews()]
    messages = [_reported_message(*found) for found in chat_moderation.open_reports()]
    return reviews, messages


def hide_review(review_id: int, admin: User, action: str) -> None:
    """"hide" or "unhide" a review (ReviewError when refused)."""
    set_hidden(review_id, admin, action == "hide")
    audit.record(f"review.{action}", "review", review_id)


def moderate_message(message_id: int, admin: User, action: str, reason: str = "") -> None:
    """"delete" a reported message for everyone, or "dismiss" its reports (ChatError when refused)."""
    if action == "delete":
        chat_moderation.delete_message(message_id, admin, reason)
    else:
        chat_moderation.dismiss_reports(message_id, admin)
    audit.record(f"message.{action}", "message", message_id)


def moderate_user(room: ChatRoom, user_id: int, admin: User, action: str, minutes: int | None,
                  reason: str = "") -> None:
    """Mute, unmute, ban or unban a user in a room (ChatError when refused)."""
    chat_moderation.set_restriction(room, user_id, admin, action, minutes=minutes, reason=reason)
    audit.record(f"chat_user.{action}", "user", user_id, room_id=room.id, minutes=minutes if action == "mute" else None)


def room(room_id: int) -> ChatRoom | None:
    return db.session.get(ChatRoom, room_id)
