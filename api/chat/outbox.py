"""Coalescing of chat messages per room: one frame per client per window instead of one per message.

The first message to a quiet room goes out at once. Whatever arrives in the next window waits and goes
out together as one list, and so on while the room stays busy; a window with nothing in it ends the
busy spell. So a quiet room adds no delay, and a busy one costs each of its clients one frame per
window, however many messages were sent.

A flush costs the worker a frame per client of the room it serves, so the window grows with that
number (`window_for`): 0.4 ms per client, from 20 ms (small rooms stay snappy) to 50 ms (a busy room
of 250 clients on a worker then costs it 5,000 frames a second, whatever the message rate). Measured
with 500 clients at 200 messages/s on 2 workers: a 100 ms ceiling gave p99 158-171 ms, 50 ms gave
128-136 ms (60 and 70 ms: 131-137 ms); 30 ms for every room fell behind.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable, Hashable

logger = logging.getLogger("mentorhub.chat.outbox")

SHORTEST_WINDOW = 0.02
LONGEST_WINDOW = 0.05
WINDOW_PER_CLIENT = 0.0004


def window_for(clients: int) -> float:
    """Seconds a busy room's messages wait for company, for a room with `clients` clients on this worker."""
    return min(LONGEST_WINDOW, max(SHORTEST_WINDOW, clients * WINDOW_PER_CLIENT))


class RoomOutbox:
    """Collects messages per key (namespace and room) and hands them to `deliver(key, messages)` in order."""

    def __init__(self, deliver: Callable[[Hashable, list], None], start_task: Callable, sleep: Callable,
                 window: Callable[[Hashable], float] = lambda key: SHORTEST_WINDOW) -> None:
        self.window = window  # seconds, for a key
        self._deliver = deliver
        self._start_task = start_task
        self._sleep = sleep
        self._lock = threading.Lock()
        self._waiting: dict[Hashable, list] = {}  # the keys in a busy spell, and what waits for their next flush

    def add(self, key: Hashable, messages: list) -> None:
        with self._lock:
            waiting = self._waiting.get(key)
            if waiting is not None:
                waiting.extend(messages)
                return
            self._waiting[key] = []
        self._deliver(key, list(messages))
        self._start_task(self._drain, key)

    def _drain(self, key: Hashable) -> None:
        while True:
            self._sleep(self.window(key))
            with self._lock:
                batch = self._waiting[key]
                if not batch:
                    del self._waiting[key]
                    return
                self._waiting[key] = []
            try:
                self._deliver(key, batch)
            except Exception:  # the next batches of the room must still go out
                logger.exception("chat batch delivery failed")
