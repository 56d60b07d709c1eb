"""Telling people about their bookings: an in-app notification row and an e-mail in the outbox file.

The e-mail goes through `send_outbox_email`, which appends one JSON line to settings.outbox_path, in the same
shape as api.notify.outbox.
"""
from __future__ import annotations

import json
import threading
from typing import Any

from flask import current_app
from sqlalchemy import insert

from api.bookings.transaction import after_commit
from api.extensions import db
from api.tables import Notification, User, utcnow

_outbox_lock = threading.Lock()
_INSERT = insert(Notification.__table__)


def send_outbox_email(to: str, subject: str, body: str, **extra: Any) -> None:
    """Append one e-mail to the outbox file (JSON lines)."""
    settings = current_app.config["MENTORHUB_SETTINGS"]
    entry = {"ts": utcnow().isoformat(), "channel": "email", "to": to, "subject": subject, "body": body, **extra}
    path = settings.outbox_path
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(entry, ensure_ascii=False) + "\n"
    with _outbox_lock, path.open("a", encoding="utf-8") as handle:
        handle.write(line)


def notify(user: User, kind: str, title: str, body: str, booking_id: int | None = None, link: str | None = None) -> None:
    """Add an in-app notification to the current transaction and e-mail the user once it commits.

    The row goes in with a Core INSERT in the session's transaction (nothing reads it back as an object,
    so the ORM's unit of work would only cost time); it commits or rolls back with the change it reports.
    """
    db.session.execute(_INSERT, {"user_id": user.id, "kind": kind, "title": title, "body": body,
                                 "booking_id": booking_id, "link": link, "created_at": utcnow(), "read_at": None})
    email = user.email

    def _send() -> None:
        send_outbox_email(email, title, body + (f"\n\n{link}" if link else ""), kind=kind, booking_id=booking_id)

    after_commit(_send)
