"""The Socket.IO message queue on Redis, and the write-only emitter for other processes.

`client_manager(settings)` is what create_app() hands to socketio.init_app: a RedisManager that
delivers to this worker's clients first and then publishes for the other workers, so that with
Redis down a single worker keeps working (publishing is skipped for a few seconds after a
failure instead of costing every message two failed connection attempts).

Chat messages travel as one event, `messages`: {"room_id", "room", "messages": [message, ...]}.
Each worker coalesces those of a room (its own and those from the queue) for a short window, longer
for rooms with more clients on it (`api.chat.outbox`), so a busy room costs each client one frame per
window instead of one per message.

Through an outage of Redis nothing stored is lost to the clients of other workers: a worker keeps the
messages it could not publish and publishes them once Redis answers again, and a worker whose subscription
broke calls `on_queue_back` once it is subscribed again (`api.chat.recovery`: what its clients may have
missed is sent to them from the database). Clients show each message id once.

Ending a user's sessions (log-out, a new password) emits SESSIONS_ENDED_EVENT to the user's room: every
worker disconnects that user's sockets whose session is older (`socket_sessions`); no client ever sees it.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any, Callable

import socketio

from api.chat.outbox import RoomOutbox, window_for

logger = logging.getLogger("mentorhub.chat.queue")

CHANNEL = "mentorhub-chat"
NAMESPACE = "/chat"
MESSAGES_EVENT = "messages"
SESSIONS_ENDED_EVENT = "mentorhub:sessions-ended"  # {"user_id", "version"}: handled by the workers, never sent
# what a worker keeps to publish again when Redis failed: stored messages and ended sessions
KEPT_EVENTS = (MESSAGES_EVENT, SESSIONS_ENDED_EVENT)
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


# socket id -> (user id, session version) as Flask-Login authenticated it at connect (this process's /chat sockets)
socket_sessions: dict[str, tuple[int, int]] = {}


class CoalescingMixin:
    """Delivers `messages` events to this worker's clients through a per-room outbox, and disconnects the sockets
    of ended sessions."""

    _outbox: RoomOutbox | None = None
    # called with (manager, seconds since the subscription broke) once the queue is back after an outage
    on_queue_back: Callable[[Any, float], None] | None = None

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

    def _sessions_ended(self, event, data, namespace, local: bool) -> bool:
        """True when the event was SESSIONS_ENDED_EVENT: this worker's sockets of the older sessions are cut."""
        if event != SESSIONS_ENDED_EVENT or not isinstance(data, dict):
            return False
        if local:  # inside the request that ended the sessions: not in its application context
            self.server.start_background_task(self.end_sessions, data.get("user_id"), data.get("version"))
        else:  # in the queue's order: nothing published after the notice reaches those sockets
            self.end_sessions(data.get("user_id"), data.get("version"))
        return True

    def end_sessions(self, user_id: int, version: int) -> None:
        """Disconnect this worker's sockets of the user opened by a session older than `version`."""
        for sid in list(self.rooms.get(NAMESPACE, {}).get(user_key(user_id), {})):
            _, socket_version = socket_sessions.get(sid, (user_id, 0))
            if socket_version < version:
                self.disconnect_here(sid)

    def disconnect_here(self, sid: str) -> None:
        try:
            self.server.disconnect(sid, namespace=NAMESPACE, ignore_queue=True)
        except Exception:  # gone meanwhile
            logger.debug("disconnecting a gone socket failed", exc_info=True)

    def emit_here(self, event: str, data: Any, room: str) -> None:
        """Emit to this worker's clients in the room only (not through the queue, not coalesced)."""
        socketio.Manager.emit(self, event, data, namespace=NAMESPACE, room=room)

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
        if self._sessions_ended(event, data, namespace, local=True):
            return None
        if self._coalesced(event, data, namespace, room, skip_sid, callback):
            return None
        return super().emit(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, **kwargs)


class ChatRedisManager(CoalescingMixin, socketio.RedisManager):
    """RedisManager that coalesces `messages` per room, backs off publishing for `retry_after` seconds after Redis
    failed (keeping stored messages to publish later), and resubscribes within `resubscribe_after` seconds."""

    name = "mentorhub-redis"

    def __init__(self, url: str, retry_after: float = 3.0, resubscribe_after: float = 1.0, kept: int = 5000,
                 **kwargs: Any) -> None:
        kwargs.setdefault("channel", CHANNEL)
        kwargs.setdefault("redis_options", dict(REDIS_OPTIONS))
        super().__init__(url, **kwargs)
        self.retry_after = retry_after
        self.resubscribe_after = resubscribe_after
        self._down_until = 0.0
        self._kept: deque[dict] = deque(maxlen=kept)  # emits not yet published, oldest first
        self._kept_lock = threading.Lock()
        self._republishing = False

    def _handle_emit(self, message):
        """An emit of this worker or from the queue: `messages` go through the outbox, the rest at once."""
        data = message.get("data")
        if not message.get("binary") and isinstance(data, list) and len(data) == 1:
            event, namespace = message.get("event"), message.get("namespace")
            if self._sessions_ended(event, data[0], namespace, local=message.get("host_id") == self.host_id):
                return None
            if self._coalesced(event, data[0], namespace, message.get("room"), message.get("skip_sid"),
                               message.get("callback")):
                return None
        return super()._handle_emit(message)

    def _publish(self, data):
        if time.monotonic() < self._down_until:
            self._keep(data)  # local clients already got it; the others get it once Redis is back
            return None
        try:
            if not self.connected:
                self._redis_connect()
            return self.redis.publish(self.channel, self.json.dumps(data))
        except Exception as error:  # redis raises its own and OS errors
            self._failed(error)
            self._keep(data)
            return None

    def _failed(self, error: Exception) -> None:
        self.connected = False
        self._down_until = time.monotonic() + self.retry_after
        logger.warning("chat message queue unavailable, serving this worker only: %s", type(error).__name__)

    def _keep(self, data) -> None:
        """Keep a stored message (or an ended session) to publish once Redis answers; start trying."""
        if not isinstance(data, dict) or data.get("method") != "emit" or data.get("event") not in KEPT_EVENTS:
            return
        with self._kept_lock:
            self._kept.append(data)
            if self._republishing:
                return
            self._republishing = True
        self.server.start_background_task(self._republish_kept)

    def _republish_kept(self) -> None:
        """Publish what was kept, oldest first, once Redis answers (trying again every second until then)."""
        while True:
            self.server.sleep(max(0.05, self._down_until - time.monotonic()))
            with self._kept_lock:
                if not self._kept:
                    self._republishing = False
                    return
            if time.monotonic() < self._down_until:
                continue
            try:
                if not self.connected:
                    self._redis_connect()
                while True:
                    with self._kept_lock:
                        if not self._kept:
                            break
                        data = self._kept[0]
                    self.redis.publish(self.channel, self.json.dumps(data))
                    with self._kept_lock:
                        if self._kept and self._kept[0] is data:
                            self._kept.popleft()
                logger.info("chat message queue is back: kept messages published")
            except Exception as error:
                self.connected = False
                self._down_until = time.monotonic() + min(1.0, self.retry_after)
                logger.debug("chat message queue still unavailable: %s", type(error).__name__)

    def _redis_listen_with_retries(self):
        """Subscribe (on a connection of its own) and listen; after a failure, try again every `resubscribe_after`
        seconds and, once subscribed again, let `on_queue_back` send this worker's clients what they missed."""
        lost_at = pubsub = None
        while True:
            try:
                client = self._get_redis_module().Redis.from_url(self.redis_url, **self.redis_options)
                self.pubsub = pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel)
                if lost_at is not None:
                    self._queue_back(time.monotonic() - lost_at)
                    lost_at = None
                yield from pubsub.listen()
            except Exception as error:  # redis raises its own and OS errors
                if lost_at is None:
                    lost_at = time.monotonic()
                    logger.warning("chat message queue subscription lost: %s", type(error).__name__)
                try:
                    if pubsub is not None:
                        pubsub.close()
                except Exception:  # the connection is gone anyway
                    logger.debug("closing the broken subscription failed", exc_info=True)
                time.sleep(self.resubscribe_after)

    def _queue_back(self, lost_seconds: float) -> None:
        logger.info("chat message queue subscription is back after %.1fs", lost_seconds)
        self._down_until = 0.0  # publish at once again
        if self.on_queue_back is not None:
            self.server.start_background_task(self.on_queue_back, self, lost_seconds)


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

    def message(self, payload: dict) -> None:
        """Broadcast a stored message (the output of `serialize_message` with its room) to its room."""
        self.to_room(payload["room_id"], MESSAGES_EVENT, messages_event(payload["room_id"], payload["room"], [payload]))


def room_key(room_id: int) -> str:
    return f"room:{room_id}"


def user_key(user_id: int) -> str:
    return f"user:{user_id}"
