"""Moderation: members report messages; admins delete messages and mute or ban users from rooms."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.chat.rooms import ChatError, check_can_read, membership
from api.extensions import db
from api.tables import ChatMember, ChatRoom, Message, User, utcnow
from api.tables.chat import MessageReport, ModerationAction


def report_message(message_id: int, reporter: User, reason: str = "") -> MessageReport:
    """Report a message of a room the reporter can read (once per reporter)."""
    message = db.session.get(Message, message_id) if isinstance(message_id, int) else None
    if message is None or message.deleted_at is not None:
        raise ChatError("No such message.", 404)
    check_can_read(db.session.get(ChatRoom, message.room_id), reporter)
    if message.sender_id == reporter.id:
        raise ChatError("You cannot report your own message.")
    existing = db.session.scalar(select(MessageReport).where(MessageReport.message_id == message.id,
                                                             MessageReport.reporter_id == reporter.id))
    if existing is not None:
        return existing
    report = MessageReport(message_id=message.id, reporter_id=reporter.id, reason=(reason or "")[:500])
    message.reported_count = (message.reported_count or 0) + 1
    db.session.add(report)
    try:
        db.session.commit()
    except IntegrityError:  # the same report sent twice at once
        db.session.rollback()
        return db.session.scalar(select(MessageReport).where(MessageReport.message_id == message.id,
                                                             MessageReport.reporter_id == reporter.id))
    return report


def delete_message(message_id: int, admin: User, reason: str = "") -> Message:
    message = db.session.get(Message, message_id)
    if message is None:
        raise ChatError("No such message.", 404)
    if message.deleted_at is None:
        message.deleted_at = utcnow()
        now = utcnow()
        for report in db.session.scalars(select(MessageReport).where(MessageReport.message_id == message.id,
                                                                     MessageReport.resolved_at.is_(None))):
            report.resolved_at, report.resolved_by_id = now, admin.id
        db.session.add(ModerationAction(room_id=message.room_id, moderator_id=admin.id, action="delete",
                                        target_user_id=message.sender_id, message_id=message.id,
                                        reason=(reason or "")[:500]))
        db.session.commit()
    return message


def dismiss_reports(message_id: int, admin: User) -> int:
    now = utcnow()
    count = 0
    for report in db.session.scalars(select(MessageReport).where(MessageReport.message_id == message_id,
                                                                 MessageReport.resolved_at.is_(None))):
        report.resolved_at, report.resolved_by_id = now, admin.id
        count += 1
    db.session.commit()
    return count


def _member_for_moderation(room: ChatRoom, user_id: int) -> ChatMember:
    if db.session.get(User, user_id) is None:
        raise ChatError("No such user.", 404)
    member = membership(room, user_id)
    if member is None:
        if room.kind == "direct":
            raise ChatError("That user is not in this conversation.", 404)
        member = ChatMember(room_id=room.id, user_id=user_id)
        db.session.add(member)
    return member


def set_restriction(room: ChatRoom, user_id: int, admin: User, action: str, *, minutes: int | None = None,
                    reason: str = "") -> ChatMember:
    """mute (for `minutes`), unmute, ban or unban `user_id` in the room; logged in the moderation log."""
    if action not in {"mute", "unmute", "ban", "unban"}:
        raise ChatError("Unknown moderation action.")
    if user_id == admin.id:
        raise ChatError("You cannot moderate yourself.")
    member = _member_for_moderation(room, user_id)
    until = None
    if action == "mute":
        minutes = int(minutes or 60)
        if not 1 <= minutes <= 60 * 24 * 365:
            raise ChatError("Mute for between 1 minute and a year.")
        until = utcnow() + timedelta(minutes=minutes)
        member.muted_until = until
    elif action == "unmute":
        member.muted_until = None
    elif action == "ban":
        member.banned = True
    else:
        member.banned = False
    db.session.add(ModerationAction(room_id=room.id, moderator_id=admin.id, action=action, target_user_id=user_id,
                                    until=until, reason=(reason or "")[:500]))
    db.session.commit()
    return member


def open_reports(limit: int = 100) -> list[tuple[MessageReport, Message, ChatRoom]]:
    rows = db.session.execute(
        select(MessageReport, Message, ChatRoom)
        .join(Message, Message.id == MessageReport.message_id)
        .join(ChatRoom, ChatRoom.id == Message.room_id)
        .where(MessageReport.resolved_at.is_(None))
        .order_by(MessageReport.created_at.desc()).limit(limit)
    ).all()
    return [tuple(r) for r in rows]
