"""Group commit of chat messages: the messages sent while a transaction is in flight are stored together.

A `send` hands its message to the app's writer. When no transaction is in flight, the sender stores it
at once (it leads); otherwise it waits, and the next leader checks the senders of everything that has
waited meanwhile (`sender_refusals`: one query for all), counts them against their senders' flood limits in
the order they were sent (`flood_check`: one round trip to Redis, so no message overtakes an earlier one of
its sender) and stores the allowed messages in one
transaction: the messages, their MESSAGE_SENT events and read markers. Then the leader broadcasts them
(one `messages` event per room), wakes their senders with their stored payloads, and hands the lead,
with everything that waited meanwhile, to the first of those.
A quiet chat thus stores each message alone and at once; a busy one commits a few times per
window instead of once per message, and every message is stored before it is broadcast.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from flask import current_app

from api.chat.flood import flood_control_for
from api.chat.queue import MESSAGES_EVENT, NAMESPACE, messages_event, room_key
from api.chat.rooms import ChatError, NewMessage, post_messages, sender_refusals
from api.extensions import db, socketio
from api.settings import current_settings

logger = logging.getLogger("mentorhub.chat.writer")


@dataclass
class Pending:
    """A message waiting for its transaction, and what became of it."""

    new: NewMessage
    client_id: str | None = None
    woken: threading.Event = field(default_factory=threading.Event)  # stored, failed, or handed a group to store
    group: list[Pending] | None = None  # the group this one is to store (it leads)
    payload: dict | None = None
    error: ChatError | None = None


class MessageWriter:
    """Group commit, one group in flight per worker by default, so that a worker broadcasts in id order (more
    `leaders` overlap transactions; measured no faster in `bench chat` on 2 cores)."""

    def __init__(self, leaders: int = 1) -> None:
        self._lock = threading.Lock()
        self._waiting: list[Pending] = []
        self._leaders = 0  # groups being stored
        self.max_leaders = leaders

    def post(self, new: NewMessage, client_id: str | None = None) -> dict:
        """Store the message (alone or with others sent meanwhile) and broadcast it; its payload."""
        pending = Pending(new, client_id if isinstance(client_id, str) and len(client_id) <= 64 else None)
        with self._lock:
            self._waiting.append(pending)
            if self._leaders < self.max_leaders:
                self._leaders += 1
                pending.group, self._waiting = self._waiting, []
        if pending.group is None:
            db.session.close()  # hand the connection back to the pool while waiting
            pending.woken.wait()
        if pending.group is not None:
            self._store_group(pending.group)
        if pending.error is not None:
            raise pending.error
        return pending.payload

    def _store_group(self, group: list[Pending]) -> None:
        try:
            for pending, refusal in zip(group, sender_refusals([p.new for p in group])):
                pending.error = refusal
            flood_check(p for p in group if p.error is None)
            allowed = [p for p in group if p.error is None]
            if allowed:
                stored = post_messages([p.new for p in allowed])
                for pending, (_, payload) in zip(allowed, stored):
                    if pending.client_id is not None:
                        payload["client_id"] = pending.client_id
                    pending.payload = payload
                broadcast(allowed)
        except Exception:
            db.session.rollback()
            logger.exception("storing %d chat messages failed", len(group))
            for pending in group:
                if pending.payload is None and pending.error is None:
                    pending.error = ChatError("The message could not be stored; try again.", 503)
        finally:
            with self._lock:
                following, self._waiting = self._waiting, []
                if following:
                    following[0].group = following  # the lead passes to the first that waited
                else:
                    self._leaders -= 1
            for pending in group:
                pending.woken.set()
            if following:
                following[0].woken.set()


def flood_check(group) -> None:
    """Count the group's messages against their senders' flood limits (shared by the workers), in the order they
    were sent; those over the limit are refused."""
    group = list(group)
    settings = current_settings()
    verdicts = flood_control_for(settings).allow_many([p.new.sender_id for p in group], settings.chat_flood_messages,
                                                      settings.chat_flood_seconds)
    for pending, allowed in zip(group, verdicts):
        if not allowed:
            pending.error = ChatError(FLOODING, 429)


FLOODING = "You are sending messages too fast; wait a few seconds."


def broadcast(group: list[Pending]) -> None:
    """One `messages` event per room of the stored group, to everyone in it (all workers)."""
    rooms: dict[int, list[Pending]] = {}
    for pending in group:
        rooms.setdefault(pending.new.room.id, []).append(pending)
    for room_id, members in rooms.items():
        room = members[0].new.room
        socketio.emit(MESSAGES_EVENT, messages_event(room.id, room.slug, [p.payload for p in members]),
                      to=room_key(room_id), namespace=NAMESPACE)


def message_writer() -> MessageWriter:
    """The writer of the current app (one per worker process and app)."""
    return current_app.extensions.setdefault("chat_writer", MessageWriter())
