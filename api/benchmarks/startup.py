"""`mentorhub bench startup`: the app itself, from starting the server to its first healthy /healthz."""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import click

from api.benchmarks.common import free_port


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
