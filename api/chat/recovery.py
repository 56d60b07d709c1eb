"""What a chat worker does when its Redis queue is back after an outage: nothing stored is lost to its clients.

While its subscription was broken the worker heard nothing that other workers published: the messages they
stored meanwhile, and the sessions that ended. Once subscribed again (`ChatRedisManager.on_queue_back`) it
closes its sockets of ended sessions and sends, to each room its clients are in, the messages stored since a
little before the subscription broke (`REDELIVERY_GRACE` also covers a message whose transaction committed
late). Clients show each message id once, so whatever also arrived live is not shown twice.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from api.chat.queue import MESSAGES_EVENT, NAMESPACE, messages_event, room_key, socket_sessions
from api.chat.rooms import serialize_many
from api.extensions import db
from api.tables import ChatRoom, Message, User, utcnow

logger = logging.getLogger("mentorhub.chat.recovery")

REDELIVERY_GRACE = timedelta(seconds=10)


def recover(app, manager, lost_seconds: float) -> None:
    """After `lost_seconds` without a subscription: close stale sockets, then resend what may have been missed."""
    with app.test_request_context():  # a request context of its own: attachment links are built with url_for
        try:
            disconnect_ended_sessions(manager)
            redeliver(app.config["MENTORHUB_SETTINGS"], manager,
                      utcnow() - timedelta(seconds=lost_seconds) - REDELIVERY_GRACE)
        except Exception:
            logger.exception("chat recovery after the queue outage failed")
        finally:
            db.session.remove()


def disconnect_ended_sessions(manager) -> int:
    """Disconnect this worker's sockets whose session ended (or whose account was closed); how many."""
    sockets = {sid: owner for sid, owner in list(socket_sessions.items()) if manager.is_connected(sid, NAMESPACE)}
    if not sockets:
        return 0
    user_ids = {user_id for user_id, _ in sockets.values()}
    current = dict(db.session.execute(
        select(User.id, User.session_version).where(User.id.in_(user_ids), User.is_active_account)).all())
    db.session.rollback()
    stale = [sid for sid, (user_id, version) in sockets.items() if current.get(user_id) != version]
    for sid in stale:
        manager.disconnect_here(sid)
    return len(stale)


def redeliver(settings, manager, since) -> int:
    """Send each room this worker's clients are in the messages stored since `since` (only here); how many."""
    rooms = manager.rooms.get(NAMESPACE, {})
    room_ids = [int(name.split(":", 1)[1]) for name, sids in list(rooms.items())
                if isinstance(name, str) and name.startswith("room:") and name[5:].isdigit() and sids]
    sent = 0
    for room_id in room_ids:
        room = db.session.get(ChatRoom, room_id)
        if room is None:
            continue
        recent = db.session.execute(  # the room's newest ids (an index range), then those stored since `since`
            select(Message.id, Message.created_at).where(Message.room_id == room_id)
            .order_by(Message.id.desc()).limit(settings.chat_sync_max_messages)).all()
        ids = [message_id for message_id, created_at in recent if created_at >= since]
        if ids:
            messages = db.session.scalars(select(Message).where(Message.id.in_(ids)).order_by(Message.id)).all()
            payloads = serialize_many(list(messages), room)
            manager.emit_here(MESSAGES_EVENT, messages_event(room.id, room.slug, payloads), room_key(room_id))
            sent += len(payloads)
    db.session.rollback()
    return sent
