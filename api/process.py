"""Tuning for a long-lived server process, applied once it has loaded what it keeps."""
from __future__ import annotations


def tune_garbage_collector() -> None:
    """Keep the collector off the startup heap and run it less often: its default pace (a young collection
    every 700 allocations, full ones over everything loaded) stalled every eventlet green thread for up to a
    second at a time (see the chat benchmark in README.md) and lengthens the recommendation tier's slowest
    requests, whose workers hold the catalogue and every learner in memory."""
    import gc

    gc.collect()
    gc.freeze()  # what exists now (modules, the app, the warmed-up caches) is never scanned again
    gc.set_threshold(50_000, 20, 20)
