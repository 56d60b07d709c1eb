"""Telling people about their bookings: an in-app notification row and an e-mail in the outbox file."""
from __future__ import annotations

from typing import Any

from sqlalchemy import insert

from api.bookings.transaction import after_commit
from api.extensions import db
from api.notify.outbox import append_to_outbox
from api.settings import current_settings
from api.tables import Notification, User, utcnow

_INSERT = insert(Notification.__table__)


def send_outbox_email(to: str, subject: str, body: str, **extra: Any) -> None:
    """Append one e-mail to the outbox file (JSON lines, the shape of api.notify.outbox)."""
    append_to_outbox(current_settings().outbox_path,
                     {"channel": "email", "to": to, "subject": subject, "body": body, **extra})


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
