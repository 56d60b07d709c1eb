"""What the search's two derived stores share: their parameters table and the at-most-every runner of their upkeep.

The ranking columns (`ranking_columns`) and the free-slot index (`free_slots`) keep the values they were
computed from in `search_ranking_params` (name -> value), and each search checks, at most every so many
seconds per process, whether either is due for a refresh.
"""
from __future__ import annotations

import logging
import threading
import time

import sqlalchemy as sa
from flask import current_app

from api.extensions import db

logger = logging.getLogger(__name__)

params_table = sa.table("search_ranking_params", sa.column("name", sa.String), sa.column("value", sa.Float))


def at_most_every(name: str, seconds: float, lock: threading.Lock, work, what: str, wait: bool = False) -> None:
    """Run `work()` if this process has not done so in the last `seconds`, in one thread at a time; other
    threads go on meanwhile (or, with `wait`, wait for it). A failure is logged, rolled back and not retried
    before `seconds` have passed: the search answers from what the database holds."""
    cache = current_app.extensions.setdefault("search_cache", {})
    key = f"{name}_checked_until"
    if cache.get(key, 0.0) > time.monotonic() or not lock.acquire(blocking=wait):
        return
    try:
        if cache.get(key, 0.0) > time.monotonic():
            return
        try:
            work()
        except Exception:  # noqa: BLE001
            db.session.rollback()
            logger.exception("%s failed", what)
        cache[key] = time.monotonic() + seconds
    finally:
        lock.release()
