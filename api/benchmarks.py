"""Benchmarks of the app itself (start-up time to the first /healthz) and what every `bench` command uses:
a free port, the CPU time of a server's process tree, nearest-rank percentiles."""
from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import click


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tree_cpu_seconds(pid: int) -> float:
    """user + system CPU seconds of a process and its children (e.g. gunicorn's workers), from /proc; 0 elsewhere."""
    total, ticks = 0.0, os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError, IndexError):
            continue
    return total


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def time_to_first_healthz(timeout: float = 30.0) -> float:
    """Seconds from starting `python -m api.server` to its first 200 on /healthz."""
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "api.server", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        while time.perf_counter() - started < timeout:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.02)
        raise click.ClickException(f"the server did not answer /healthz within {timeout:.0f}s")
    finally:
        process.terminate()
        process.wait(timeout=10)


@click.command("startup")
@click.option("--runs", default=5, show_default=True, type=click.IntRange(1))
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path))
def startup(runs: int, json_path: Path | None) -> None:
    """Start the eventlet server RUNS times and time each to its first healthy /healthz."""
    timings = [time_to_first_healthz() for _ in range(runs)]
    figures = {"runs": runs, "median_s": round(statistics.median(timings), 3),
               "min_s": round(min(timings), 3), "max_s": round(max(timings), 3)}
    click.echo(f"start-up to first /healthz over {runs} runs: median {figures['median_s']:.2f}s "
               f"(min {figures['min_s']:.2f}s, max {figures['max_s']:.2f}s)")
    if json_path:
        json_path.write_text(json.dumps(figures, indent=2))
