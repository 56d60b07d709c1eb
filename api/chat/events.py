"""Socket.IO handlers of the chat (namespace /chat): connect, join, leave, send, typing, read.

Every handler answers through the acknowledgement: {"ok": true, ...} or {"ok": false, "error": "..."}.
A message is stored (with its event) before it is broadcast.
"""
from __future__ import annotations

import functools
import logging

from flask import request
from flask_login import current_user
from flask_socketio import disconnect, join_room, leave_room

from api.chat.flood import typing_control
from api.chat.offline import notify_if_offline
from api.chat.presence import presence_for
from api.chat.queue import (
    MESSAGES_EVENT,
    NAMESPACE,
    SESSIONS_ENDED_EVENT,
    messages_event,
    room_key,
    socket_sessions,
    user_key,
)
from api.chat.rooms import (
    ChatError,
    NewMessage,
    Sender,
    check_can_read,
    check_can_send,
    history,
    mark_read,
    mentioned_user_ids,
    message_body,
    other_member_id,
    read_markers,
    room_ref,
    room_title,
    serialize_many,
    unread_total,
)
from api.chat.writer import message_writer
from api.extensions import db, socketio
from api.settings import current_settings
from api.tables import User

logger = logging.getLogger("mentorhub.chat")


def presence():
    return presence_for(current_settings())


def _current_user() -> User:
    if not current_user.is_authenticated:
        disconnect()
        raise ChatError("Log in again.", 401)
    return current_user._get_current_object()


def handler(event: str):
    """Register a /chat event whose ChatError becomes {"ok": false, "error"} in the acknowledgement."""

    def decorator(function):
        @functools.wraps(function)
        def wrapper(data=None, *args):
            try:
                return function(_current_user(), data if isinstance(data, dict) else {})
            except ChatError as error:
                db.session.rollback()
                return {"ok": False, "error": error.message, "code": error.code}

        return socketio.on(event, namespace=NAMESPACE)(wrapper)

    return decorator


def _int(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def online_users(room_id: int) -> list[dict]:
    ids = presence().room_users(room_id)
    if not ids:
        return []
    rows = db.session.query(User.id, User.full_name).filter(User.id.in_(ids)).order_by(User.full_name).all()
    return [{"id": uid, "name": name} for uid, name in rows]


@socketio.on("connect", namespace=NAMESPACE)
def on_connect(auth=None):
    """Only logged-in users (the session cookie of the handshake) may connect."""
    if not current_user.is_authenticated:
        raise ConnectionRefusedError("Log in to use the chat.")
    join_room(user_key(current_user.id))
    presence().connect(request.sid, current_user.id)
    socket_sessions[request.sid] = (current_user.id, current_user.session_version)


@socketio.on("disconnect", namespace=NAMESPACE)
def on_disconnect(*args):
    socket_sessions.pop(request.sid, None)
    tracker = presence()
    user_id = tracker.user_of(request.sid)
    for room_id in tracker.disconnect(request.sid):
        if user_id is not None and user_id not in tracker.room_users(room_id):
            socketio.emit("presence", {"room_id": room_id, "user": {"id": user_id}, "online": False},
                          to=room_key(room_id), namespace=NAMESPACE)
    db.session.remove()


@handler("join")
def on_join(user: User, data: dict):
    """Enter a room: its latest page of history, or what was missed after `after_id` on a reconnect."""
    room = room_ref(data.get("room"))
    check_can_read(room, user)
    tracker = presence()
    was_online = user.id in tracker.room_users(room.id)
    join_room(room_key(room.id))  # before reading: nothing sent meanwhile can fall between the two
    tracker.join(request.sid, room.id)
    after_id = _int(data.get("after_id"))
    messages, more = history(room, after_id=after_id)
    if not was_online:
        socketio.emit("presence", {"room_id": room.id, "user": {"id": user.id, "name": user.full_name}, "online": True},
                      to=room_key(room.id), namespace=NAMESPACE, skip_sid=request.sid)
    return {
        "ok": True,
        "room": {"id": room.id, "slug": room.slug, "kind": room.kind, "title": room_title(room, user)},
        "messages": serialize_many(messages, room),
        "more": more,
        "sync": after_id is not None,
        "online": online_users(room.id),
        "read": {str(k): v for k, v in read_markers(room).items()},
    }


@handler("leave")
def on_leave(user: User, data: dict):
    room = room_ref(data.get("room"))
    if room is None:
        return {"ok": True}
    leave_room(room_key(room.id))
    tracker = presence()
    tracker.leave(request.sid, room.id)
    if user.id not in tracker.room_users(room.id):
        socketio.emit("presence", {"room_id": room.id, "user": {"id": user.id}, "online": False},
                      to=room_key(room.id), namespace=NAMESPACE)
    return {"ok": True}


@socketio.on("send", namespace=NAMESPACE)
def on_send(data=None, *args):
    """Store (with the messages sent meanwhile), then broadcast; mentions and an offline recipient are told afterwards.

    The socket's user was authenticated at connect; the writer checks the sender (account, session,
    verification, ban, mute, flood limit) together with the other senders of its group, so a send costs no query
    of its own.
    """
    data = data if isinstance(data, dict) else {}
    try:
        user_id, session_version = socket_sessions.get(request.sid) or (None, None)
        if user_id is None:
            raise ChatError("Log in again.", 401)
        room = room_ref(data.get("room"))
        if room is None:
            raise ChatError("No such room.", 404)
        body = message_body(data.get("body"))
        new = NewMessage(room, user_id, "", body, session_version=session_version)
        payload = message_writer().post(new, client_id=data.get("client_id"))
    except ChatError as error:
        db.session.rollback()
        if error.code == 401:
            disconnect()
        return {"ok": False, "error": error.message, "code": error.code}
    after_send(room, payload["id"], body, Sender(user_id, new.sender_name))
    return {"ok": True, "message": payload}


def broadcast_message(room, payload: dict, client_id=None) -> dict:
    """Send a stored message to everyone in its room (all workers; coalesced with others by the client manager)."""
    if isinstance(client_id, str) and len(client_id) <= 64:
        payload["client_id"] = client_id
    socketio.emit(MESSAGES_EVENT, messages_event(room.id, room.slug, [payload]), to=room_key(room.id),
                  namespace=NAMESPACE)
    return payload


def after_send(room, message_id: int, body: str, sender) -> None:
    """Mentions, unread badges and the offline notification; failures here never undo the message."""
    if "@" not in body and room.kind != "direct":
        return
    try:
        for user_id in mentioned_user_ids(room, body, sender.id):
            socketio.emit("mention", {"room": room.slug, "message_id": message_id,
                                      "from": {"id": sender.id, "name": sender.full_name}},
                          to=user_key(user_id), namespace=NAMESPACE)
        if room.kind == "direct":
            other_id = other_member_id(room, sender.id)
            if other_id is not None:
                socketio.emit("unread", {"total": unread_total(other_id)}, to=user_key(other_id), namespace=NAMESPACE)
                notify_if_offline(room, message_id, sender, presence().is_online)
    except Exception:
        db.session.rollback()
        logger.exception("after-send step failed", extra={"message_id": message_id})


@handler("typing")
def on_typing(user: User, data: dict):
    room = room_ref(data.get("room"))
    check_can_send(room, user)
    if not typing_control.allow(user.id, 10, 10.0):
        return {"ok": True}  # the others already know
    socketio.emit("typing", {"room": room.slug, "user": {"id": user.id, "name": user.full_name},
                             "typing": bool(data.get("typing", True))},
                  to=room_key(room.id), namespace=NAMESPACE, skip_sid=request.sid)
    return {"ok": True}


@handler("read")
def on_read(user: User, data: dict):
    """Read receipt: move the reader's marker and tell the room (one-on-one rooms only)."""
    room = room_ref(data.get("room"))
    check_can_read(room, user)
    message_id = _int(data.get("message_id"))
    if room.kind != "direct" or message_id is None:
        return {"ok": True}
    marker = mark_read(room, user, message_id)
    if marker is not None:
        socketio.emit("read", {"room": room.slug, "user_id": user.id, "message_id": marker},
                      to=room_key(room.id), namespace=NAMESPACE)
        socketio.emit("unread", {"total": unread_total(user.id)}, to=user_key(user.id), namespace=NAMESPACE)
    return {"ok": True, "message_id": marker}


def end_sockets(user: User) -> None:
    """The user's sessions before this one ended (log-out, new password): their sockets close, on every worker."""
    try:
        socketio.emit(SESSIONS_ENDED_EVENT, {"user_id": user.id, "version": user.session_version},
                      to=user_key(user.id), namespace=NAMESPACE)
    except Exception:  # the log-out itself must not fail; a worker that missed it checks again when the queue is back
        logger.exception("closing the sockets of ended sessions failed", extra={"user_id": user.id})


def kick_from_room(room, user_id: int) -> None:
    """Take every socket of the user (on any worker) out of the room after a ban."""
    tracker = presence()
    for sid, owner in tracker.room_sids(room.id).items():
        if owner == user_id:
            try:
                socketio.server.leave_room(sid, room_key(room.id), namespace=NAMESPACE)
            except Exception:  # the socket went away meanwhile
                logger.debug("leave_room failed for a gone socket")
            tracker.leave(sid, room.id)
    socketio.emit("presence", {"room_id": room.id, "user": {"id": user_id}, "online": False},
                  to=room_key(room.id), namespace=NAMESPACE)
