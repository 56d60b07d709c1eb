"""Flood control: at most N messages per user in a sliding window (per worker process)."""
from __future__ import annotations

import threading
import time
from collections import defaultdict, deque


class FloodControl:
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

    def reset(self) -> None:
        with self._lock:
            self._sent.clear()


flood_control = FloodControl()
typing_control = FloodControl()  # typing notices: at most a few per user and window
