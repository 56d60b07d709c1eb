"""What the `mentorhub` commands show in a terminal: a short summary per step, the details in a log file.

`details_to_log(title)` sends everything a step prints below Python (libraries' logs, warnings, progress
bars, colour codes, subprocesses such as Prefect's temporary server) to `var/log/commands.log`, and shows
one line for the step: on a terminal an updating `title... 12s`, elsewhere (make's output piped to a file,
CI) the title once, so nothing is mangled. The command then prints its own one- or two-line summary.
`mentorhub --verbose ...` shows everything in the terminal instead.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Iterator

LOG_NAME = "commands.log"
TAIL_LINES = 15


def log_file(var_dir: Path) -> Path:
    """Where the commands' details go: var/log/commands.log (appended, one header per command)."""
    path = Path(var_dir) / "log" / LOG_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def display_path(path: Path) -> str:
    """The path relative to the working directory when it is below it (var/log/commands.log), else absolute."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _fd(stream) -> int | None:
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None


class StepFailed(Exception):
    """A step failed; its details are in the log file (the message names it and quotes the last lines)."""


@contextlib.contextmanager
def details_to_log(title: str, path: Path, command: str = "") -> Iterator[None]:
    """Run a step with its details going to `path`; the terminal shows `title` (and the elapsed time on a TTY)."""
    out_fd = _fd(sys.stdout)
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
    # the terminal, kept open on a copy of the descriptor that is about to point at the log
    terminal = os.fdopen(os.dup(out_fd), "w", buffering=1) if out_fd is not None else sys.stdout
    interactive = bool(getattr(terminal, "isatty", lambda: False)())
    with open(path, "a", encoding="utf-8", buffering=1) as log:
        log.write(f"\n===== {time.strftime('%Y-%m-%d %H:%M:%S')} {command or title} =====\n")
        log.flush()
        start = log.tell()
        saved_fds = []
        for stream in (sys.stdout, sys.stderr):  # below Python: C libraries, subprocesses, tqdm, rich
            fd = _fd(stream)
            if fd is not None and fd not in [s for s, _ in saved_fds]:
                with contextlib.suppress(OSError):
                    stream.flush()
                saved_fds.append((fd, os.dup(fd)))
                os.dup2(log.fileno(), fd)
        root = logging.getLogger()
        saved_handlers, saved_level = root.handlers[:], root.level
        handler = logging.StreamHandler(log)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
        root.handlers[:] = [handler]
        root.setLevel(logging.INFO)
        logging.captureWarnings(True)
        done = threading.Event()
        ticker = None
        started = time.monotonic()
        if interactive:
            def tick() -> None:
                while not done.wait(1.0):
                    terminal.write(f"\r{title}... {time.monotonic() - started:.0f}s")
                    terminal.flush()

            terminal.write(f"{title}...")
            terminal.flush()
            ticker = threading.Thread(target=tick, name="mentorhub-step-ticker", daemon=True)
            ticker.start()
        else:
            terminal.write(f"{title}...\n")
            terminal.flush()
        failure: BaseException | None = None
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log), warnings.catch_warnings():
                warnings.simplefilter("default")  # each library warning once per place, in the log only
                yield
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as error:  # noqa: BLE001  (reported below, with the log's tail)
            failure = error
            logging.getLogger("mentorhub.cli").exception("%s failed", title)
        finally:
            done.set()
            if ticker is not None:
                ticker.join(2)
                terminal.write("\r" + " " * (len(title) + 12) + "\r")
                terminal.flush()
            logging.captureWarnings(False)
            root.handlers[:] = saved_handlers
            root.setLevel(saved_level)
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(OSError, ValueError):
                    stream.flush()
            for fd, copy in reversed(saved_fds):
                os.dup2(copy, fd)
                os.close(copy)
            if terminal is not sys.stdout:
                terminal.close()
    if failure is not None:
        with open(path, encoding="utf-8", errors="replace") as log:
            log.seek(start)
            tail = log.read().splitlines()[-TAIL_LINES:]
        raise StepFailed(f"{title} failed: {failure}\n  last lines of {display_path(path)}:\n    "
                         + "\n    ".join(tail)) from failure
