"""Who is online, per room and overall: in Redis when configured (shared by workers), else in-process.

With Redis down the in-process view keeps working for this worker's clients. Entries of a worker
that dies without disconnecting its clients stay in Redis until those users connect again.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict

logger = logging.getLogger("mentorhub.chat.presence")



class Presence:
    def __init__(self, redis_url: str = "", prefix: str = "mentorhub-chat") -> None:
        self.redis_url = redis_url
        self._online_key = f"{prefix}:online"  # hash sid -> user id
        self._prefix = prefix
        self._redis = None
        self._down_until = 0.0
        self._lock = threading.Lock()
        self._sid_user: dict[str, int] = {}
        self._sid_rooms: dict[str, set[int]] = defaultdict(set)
        self._room_sids: dict[int, set[str]] = defaultdict(set)

    def _room_hash(self, room_id: int) -> str:
        return f"{self._prefix}:presence:{room_id}"  # hash sid -> user id

    # Redis, skipped for a few seconds after it failed
    def _client(self):
        if not self.redis_url or time.monotonic() < self._down_until:
            return None
        if self._redis is None:
            import redis

            self._redis = redis.Redis.from_url(self.redis_url, socket_connect_timeout=0.5, socket_timeout=0.5)
        return self._redis

    def _run(self, operation):
        client = self._client()
        if client is None:
            return None
        try:
            return operation(client)
        except Exception as error:  # RedisError or OSError
            self._down_until = time.monotonic() + 3.0
            logger.warning("presence falls back to this worker: %s", type(error).__name__)
            return None

    def connect(self, sid: str, user_id: int) -> None:
        with self._lock:
            self._sid_user[sid] = user_id
        self._run(lambda r: r.hset(self._online_key, sid, user_id))

    def disconnect(self, sid: str) -> list[int]:
        """Forget the socket; the rooms it was in."""
        with self._lock:
            self._sid_user.pop(sid, None)
            rooms = self._sid_rooms.pop(sid, set())
            for room_id in rooms:
                self._room_sids[room_id].discard(sid)

        def _remove(r):
            pipe = r.pipeline()
            pipe.hdel(self._online_key, sid)
            for room_id in rooms:
                pipe.hdel(self._room_hash(room_id), sid)
            pipe.execute()

        self._run(_remove)
        return sorted(rooms)

    def join(self, sid: str, room_id: int) -> None:
        with self._lock:
            user_id = self._sid_user.get(sid)
            self._sid_rooms[sid].add(room_id)
            self._room_sids[room_id].add(sid)
        if user_id is not None:
            self._run(lambda r: r.hset(self._room_hash(room_id), sid, user_id))

    def leave(self, sid: str, room_id: int) -> None:
        with self._lock:
            self._sid_rooms[sid].discard(room_id)
            self._room_sids[room_id].discard(sid)
        self._run(lambda r: r.hdel(self._room_hash(room_id), sid))

    def room_sids(self, room_id: int) -> dict[str, int]:
        """sid -> user id of every socket in the room (all workers when Redis is up)."""
        shared = self._run(lambda r: r.hgetall(self._room_hash(room_id)))
        if shared is not None:
            return {k.decode(): int(v) for k, v in shared.items()}
        with self._lock:
            return {sid: self._sid_user[sid] for sid in self._room_sids.get(room_id, ()) if sid in self._sid_user}

    def room_users(self, room_id: int) -> set[int]:
        return set(self.room_sids(room_id).values())

    def is_online(self, user_id: int) -> bool:
        shared = self._run(lambda r: r.hvals(self._online_key))
        if shared is not None:
            return str(user_id).encode() in shared
        with self._lock:
            return user_id in self._sid_user.values()

    def user_of(self, sid: str) -> int | None:
        with self._lock:
            return self._sid_user.get(sid)


_presence: dict[tuple[str, str], Presence] = {}


def presence_for(settings) -> Presence:
    """One presence registry per process, Redis URL and channel."""
    key = (settings.redis_url, settings.chat_queue_channel)
    if key not in _presence:
        _presence[key] = Presence(*key)
    return _presence[key]
