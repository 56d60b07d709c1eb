"""A notification for the recipient of a one-on-one message who is not connected: one e-mail per unread streak."""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import func, select

from api.addresses import external_url
from api.chat.rooms import membership, other_member_id
from api.extensions import db
from api.notify import send_email
from api.settings import current_settings
from api.tables import Message, User, utcnow

logger = logging.getLogger("mentorhub.chat.offline")


def notify_if_offline(room, message_id: int, sender: User, is_online) -> bool:
    """E-mail the other participant when offline, unless an earlier unread message already did; True when sent."""
    if room.kind != "direct":
        return False
    settings = current_settings()
    recipient_id = other_member_id(room, sender.id)
    if recipient_id is None or is_online(recipient_id):
        return False
    member = membership(room, recipient_id)
    if member is None:
        return False
    since = utcnow() - timedelta(minutes=settings.chat_offline_email_minutes)
    earlier_unread = db.session.scalar(
        select(func.count(Message.id)).where(
            Message.room_id == room.id, Message.id < message_id, Message.sender_id != recipient_id,
            Message.id > (member.last_read_message_id or 0), Message.created_at >= since)
    )
    if earlier_unread:
        return False
    recipient = db.session.get(User, recipient_id)
    if recipient is None or not recipient.is_active:
        return False
    link = external_url("chat.room", slug=room.slug)
    text = (f"Hello {recipient.full_name},\n\n{sender.full_name} sent you a message on MentorHub.\n"
            f"Read and answer it here:\n\n{link}\n")
    try:
        send_email(recipient.email, f"New message from {sender.full_name}", text, kind="chat_message")
    except Exception:  # the message is stored; a failed e-mail must not fail the send
        logger.exception("offline chat notification failed")
        return False
    return True
