"""Flood control: at most N messages per user in a sliding window.

Shared by the workers in Redis when it is configured (one Lua script counts atomically, on Redis's clock);
while Redis cannot answer, each worker counts on its own (`FloodControl`), so a send never fails for it.
"""
from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import defaultdict, deque

logger = logging.getLogger("mentorhub.chat.flood")


class FloodControl:
    """The count of this worker process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent: dict[int, deque[float]] = defaultdict(deque)

    def allow(self, user_id: int, limit: int, window: float, now: float | None = None) -> bool:
        """Count one message of the user; False (and nothing counted) when over the limit."""
        now = time.monotonic() if now is None else now
        with self._lock:
            sent = self._sent[user_id]
            while sent and sent[0] <= now - window:
                sent.popleft()
            if len(sent) >= limit:
                return False
            sent.append(now)
            return True

    def allow_many(self, user_ids: list[int], limit: int, window: float) -> list[bool]:
        """`allow` for each message of a group, in order."""
        return [self.allow(user_id, limit, window) for user_id in user_ids]

    def reset(self) -> None:
        with self._lock:
            self._sent.clear()


# KEYS[1]: the user's sorted set of send times (microseconds); ARGV: limit, window (microseconds), a unique member
_SLIDING_WINDOW = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
return 1
"""


class SharedFloodControl:
    """The count of every worker, in Redis; this worker's own count (`local`) while Redis is down."""

    def __init__(self, redis_url: str, prefix: str, local: FloodControl, retry_after: float = 3.0) -> None:
        self.redis_url = redis_url
        self.prefix = prefix
        self.local = local
        self.retry_after = retry_after
        self._script = None
        self._down_until = 0.0

    def _sliding_window(self):
        if self._script is None:
            import redis

            client = redis.Redis.from_url(self.redis_url, socket_connect_timeout=0.5, socket_timeout=0.5)
            self._script = client.register_script(_SLIDING_WINDOW)
        return self._script

    def allow(self, user_id: int, limit: int, window: float) -> bool:
        """Count one message of the user; False (and nothing counted) when over the limit."""
        return self.allow_many([user_id], limit, window)[0]

    def allow_many(self, user_ids: list[int], limit: int, window: float) -> list[bool]:
        """`allow` for each message of a group, in order, in one round trip."""
        if not user_ids:
            return []
        if time.monotonic() >= self._down_until:
            try:
                script = self._sliding_window()
                pipe = script.registered_client.pipeline(transaction=False)
                for user_id in user_ids:
                    script(keys=[f"{self.prefix}:flood:{user_id}"],
                           args=[limit, int(window * 1_000_000), secrets.token_hex(8)], client=pipe)
                return [bool(allowed) for allowed in pipe.execute()]
            except Exception as error:  # RedisError or OSError: count here for a while
                self._down_until = time.monotonic() + self.retry_after
                logger.warning("flood control falls back to this worker: %s", type(error).__name__)
        return self.local.allow_many(user_ids, limit, window)


flood_control = FloodControl()
typing_control = FloodControl()  # typing notices: at most a few per user and window (per worker: no limit's at stake)
_shared: dict[tuple[str, str], SharedFloodControl] = {}


def flood_control_for(settings) -> FloodControl | SharedFloodControl:
    """The message flood control of the settings: shared in Redis when REDIS_URL is set, else this process's."""
    if not settings.redis_url:
        return flood_control
    key = (settings.redis_url, settings.chat_queue_channel)
    if key not in _shared:
        _shared[key] = SharedFloodControl(*key, local=flood_control)
    return _shared[key]
