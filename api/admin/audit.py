"""The audit log: every admin action is one row, written in the same transaction as the action when possible."""
from __future__ import annotations

from typing import Any

from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy import func, select

from api.extensions import db
from api.tables import AdminAuditEntry, User

MAX_PAGE = 100_000  # a page number beyond any list; larger ones would overflow the OFFSET


def page_number(args) -> int:
    """The `page` query argument, 1..MAX_PAGE."""
    return min(max(args.get("page", 1, type=int) or 1, 1), MAX_PAGE)


def record(action: str, target_type: str | None = None, target_id: Any = None, *, admin_id: int | None = None,
           commit: bool = True, **details: Any) -> AdminAuditEntry:
    """Write one audit entry for the current admin (or `admin_id`); commits unless told not to."""
    if admin_id is None and has_request_context() and current_user.is_authenticated:
        admin_id = current_user.id
    entry = AdminAuditEntry(
        admin_id=admin_id, action=action, target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        details={k: v for k, v in details.items() if v is not None},
        ip=request.remote_addr if has_request_context() else None,
    )
    db.session.add(entry)
    if commit:
        db.session.commit()
    return entry


def entries(*, page: int = 1, per_page: int = 50, action: str | None = None) -> tuple[list[dict], int]:
    """Newest first, with the admin's name; (rows, total)."""
    query = select(AdminAuditEntry, User.full_name).outerjoin(User, User.id == AdminAuditEntry.admin_id)
    count = select(func.count(AdminAuditEntry.id))
    if action:
        query = query.where(AdminAuditEntry.action.startswith(action))
        count = count.where(AdminAuditEntry.action.startswith(action))
    rows = db.session.execute(query.order_by(AdminAuditEntry.id.desc()).offset((page - 1) * per_page)
                              .limit(per_page)).all()
    return [entry_json(entry, name) for entry, name in rows], db.session.scalar(count) or 0


def entry_json(entry: AdminAuditEntry, admin_name: str | None = None) -> dict:
    return {"id": entry.id, "occurred_at": entry.occurred_at.isoformat(), "admin_id": entry.admin_id,
            "admin_name": admin_name, "action": entry.action, "target_type": entry.target_type,
            "target_id": entry.target_id, "details": entry.details or {}, "ip": entry.ip}
