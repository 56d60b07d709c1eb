"""The Socket.IO message queue on Redis, and the write-only emitter for other processes.

`client_manager(settings)` is what create_app() hands to socketio.init_app: a RedisManager that
delivers to this worker's clients first and then publishes for the other workers, so that with
Redis down a single worker keeps working (publishing is skipped for a few seconds after a
failure instead of costing every message two failed connection attempts).
"""
from __future__ import annotations

import logging
import time
from typing import Any

import socketio

logger = logging.getLogger("mentorhub.chat.queue")

CHANNEL = "mentorhub-chat"
NAMESPACE = "/chat"
# connect timeout only: a read timeout would make the idle subscriber reconnect (and miss messages)
REDIS_OPTIONS = {"socket_connect_timeout": 1.0, "health_check_interval": 30, "socket_keepalive": True}


class ChatRedisManager(socketio.RedisManager):
    """RedisManager that backs off publishing for `retry_after` seconds after Redis failed."""

    name = "mentorhub-redis"

    def __init__(self, url: str, retry_after: float = 3.0, **kwargs: Any) -> None:
        kwargs.setdefault("channel", CHANNEL)
        kwargs.setdefault("redis_options", dict(REDIS_OPTIONS))
        super().__init__(url, **kwargs)
        self.retry_after = retry_after
        self._down_until = 0.0

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


def client_manager(settings) -> socketio.Manager | None:
    """The Socket.IO client manager for the settings: Redis when REDIS_URL is set, else in-process."""
    if settings.redis_url:
        return ChatRedisManager(settings.redis_url, channel=settings.chat_queue_channel)
    return None


def external_emitter(settings) -> "ChatEmitter":
    """A write-only emitter for pipelines, the admin panel or scripts outside the web process."""
    return ChatEmitter(settings.redis_url, channel=settings.chat_queue_channel)


class ChatEmitter:
    """Emit to chat rooms and users from outside the web process, through the Redis queue.

    `external_emitter(get_settings()).to_room(room_id, "notice", {...})`; messages that should appear in a room's
    history are stored first with `api.chat.rooms.post_message` and then broadcast as `new_message`.
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
        """Broadcast a stored message (the output of `serialize_message`) to its room."""
        self.to_room(payload["room_id"], "new_message", payload)


def room_key(room_id: int) -> str:
    return f"room:{room_id}"


def user_key(user_id: int) -> str:
    return f"user:{user_id}"
