"""The Socket.IO message queue on Redis, and the write-only emitter for other processes.

`client_manager(settings)` is what create_app() hands to socketio.init_app: a RedisManager that
delivers to this worker's clients first and then publishes for the other workers, so that with
Redis down a single worker keeps working (publishing is skipped for a few seconds after a
failure instead of costing every message two failed connection attempts).

Chat messages travel as one event, `messages`: {"room_id", "room", "messages": [message, ...]}.
Each worker coalesces those of a room (its own and those from the queue) for a short window, longer
for rooms with more clients on it (`api.chat.outbox`), so a busy room costs each client one frame per
window instead of one per message.
"""
from __future__ import annotations

import logging
import time
from typing import Any

import socketio

from api.chat.outbox import RoomOutbox, window_for

logger = logging.getLogger("mentorhub.chat.queue")

CHANNEL = "mentorhub-chat"
NAMESPACE = "/chat"
MESSAGES_EVENT = "messages"
# connect timeout only: a read timeout would make the idle subscriber reconnect (and miss messages)
REDIS_OPTIONS = {"socket_connect_timeout": 1.0, "health_check_interval": 30, "socket_keepalive": True}


def messages_event(room_id: int, slug: str, messages: list[dict]) -> dict:
    """The payload of the `messages` event: stored messages of one room, oldest first."""
    return {"room_id": room_id, "room": slug, "messages": messages}


def merge_messages(payloads: list[dict]) -> dict:
    """One `messages` payload from several of the same room, ordered by message id."""
    if len(payloads) == 1:
        return payloads[0]
    messages = sorted((m for p in payloads for m in p["messages"]), key=lambda m: m["id"])
    return {**payloads[0], "messages": messages}


class CoalescingMixin:
    """Delivers `messages` events to this worker's clients through a per-room outbox."""

    _outbox: RoomOutbox | None = None

    @property
    def outbox(self) -> RoomOutbox:
        if self._outbox is None:
            self._outbox = RoomOutbox(self._deliver_batch, self.server.start_background_task, self.server.sleep,
                                      window=self._window)
        return self._outbox

    def _coalesced(self, event, data, namespace, room, skip_sid, callback) -> bool:
        """True when the outbox took the event (room-wide `messages` without skip or callback)."""
        if event != MESSAGES_EVENT or room is None or skip_sid or callback or not isinstance(data, dict):
            return False
        self.outbox.add((namespace or "/", room), [data])
        return True

    def _window(self, key) -> float:
        namespace, room = key
        return window_for(len(self.rooms.get(namespace, {}).get(room, ())))

    def _deliver_batch(self, key, payloads: list[dict]) -> None:
        namespace, room = key
        socketio.Manager.emit(self, MESSAGES_EVENT, merge_messages(payloads), namespace=namespace, room=room)


class ChatManager(CoalescingMixin, socketio.Manager):
    """The in-process client manager (no Redis): one worker, messages coalesced per room."""

    def emit(self, event, data, namespace=None, room=None, skip_sid=None, callback=None, to=None, **kwargs):
        room = to or room
        if self._coalesced(event, data, namespace, room, skip_sid, callback):
            return None
        return super().emit(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, **kwargs)


class ChatRedisManager(CoalescingMixin, socketio.RedisManager):
    """RedisManager that coalesces `messages` per room and backs off publishing for `retry_after` seconds
    after Redis failed."""

    name = "mentorhub-redis"

    def __init__(self, url: str, retry_after: float = 3.0, **kwargs: Any) -> None:
        kwargs.setdefault("channel", CHANNEL)
        kwargs.setdefault("redis_options", dict(REDIS_OPTIONS))
        super().__init__(url, **kwargs)
        self.retry_after = retry_after
        self._down_until = 0.0

    def _handle_emit(self, message):
        """An emit of this worker or from the queue: `messages` go through the outbox, the rest at once."""
        data = message.get("data")
        if (not message.get("binary") and isinstance(data, list) and len(data) == 1
                and self._coalesced(message.get("event"), data[0], message.get("namespace"), message.get("room"),
                                    message.get("skip_sid"), message.get("callback"))):
            return None
        return super()._handle_emit(message)

    def _publish(self, data):
        if time.monotonic() < self._down_until:
            return None  # local clients already got the message; the others will sync on reconnect
        try:
            if not self.connected:
                self._redis_connect()
            return self.redis.publish(self.channel, self.json.dumps(data))
        except Exception as error:  # redis raises its own and OS errors
            self.connected = False
            self._down_until = time.monotonic() + self.retry_after
            logger.warning("chat message queue unavailable, serving this worker only: %s", type(error).__name__)
            return None


def client_manager(settings) -> socketio.Manager:
    """The Socket.IO client manager for the settings: Redis when REDIS_URL is set, else in-process."""
    if settings.redis_url:
        return ChatRedisManager(settings.redis_url, channel=settings.chat_queue_channel)
    return ChatManager()


def external_emitter(settings) -> "ChatEmitter":
    """A write-only emitter for pipelines, the admin panel or scripts outside the web process."""
    return ChatEmitter(settings.redis_url, channel=settings.chat_queue_channel)


class ChatEmitter:
    """Emit to chat rooms and users from outside the web process, through the Redis queue.

    `external_emitter(get_settings()).to_room(room_id, "notice", {...})`; messages that should appear in a room's
    history are stored first with `api.chat.rooms.post_message` and then broadcast with `message(room, payload)`.
    """

    def __init__(self, redis_url: str, channel: str = CHANNEL) -> None:
        if not redis_url:
            raise ValueError("an external emitter needs REDIS_URL (the chat message queue)")
        self.manager = socketio.RedisManager(redis_url, channel=channel, write_only=True,
                                             redis_options=dict(REDIS_OPTIONS))

    def emit(self, event: str, data: Any, to: str) -> None:
        self.manager.emit(event, data, namespace=NAMESPACE, room=to)

    def to_room(self, room_id: int, event: str, data: Any) -> None:
        self.emit(event, data, to=room_key(room_id))

    def to_user(self, user_id: int, event: str, data: Any) -> None:
        self.emit(event, data, to=user_key(user_id))

    def message(self, payload: dict) -> None:
        """Broadcast a stored message (the output of `serialize_message` with its room) to its room."""
        self.to_room(payload["room_id"], MESSAGES_EVENT, messages_event(payload["room_id"], payload["room"], [payload]))


def room_key(room_id: int) -> str:
    return f"room:{room_id}"


def user_key(user_id: int) -> str:
    return f"user:{user_id}"
