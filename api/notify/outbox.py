"""The outbox file: one JSON object a line, the embedded stand-in for SMTP and an SMS provider."""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from api.tables.types import utcnow

_lock = threading.Lock()


def append_to_outbox(path: Path, message: dict[str, Any]) -> None:
    """Append one message (channel, to, subject, body...) with a timestamp."""
    entry = {"ts": utcnow().isoformat(), **message}
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(entry, ensure_ascii=False) + "\n"
    with _lock, path.open("a", encoding="utf-8") as handle:
        handle.write(line)


def read_outbox(path: Path) -> list[dict[str, Any]]:
    """Every message in the outbox, oldest first (for tests and the demo)."""
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
