"""The admin panel's own records: the audit log of admin actions and admins' TOTP secrets."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from api.extensions import db
from api.tables.types import UTCDateTime, utcnow


class AdminAuditEntry(db.Model):
    """One admin action (approve, suspend, change a setting, retrain, change a split...); never updated."""

    __tablename__ = "admin_audit_log"
    __table_args__ = (Index("ix_admin_audit_occurred_at", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    admin_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    action: Mapped[str] = mapped_column(String(64))  # e.g. mentor.approve, model_settings.update
    target_type: Mapped[str | None] = mapped_column(String(32))  # mentor | review | message | setting | experiment...
    target_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(64))


class AdminTotp(db.Model):
    """An admin's TOTP secret (encrypted with a key derived from SECRET_KEY); confirmed once a code matched."""

    __tablename__ = "admin_totp"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    secret_encrypted: Mapped[str] = mapped_column(String(255))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_counter: Mapped[int | None] = mapped_column(Integer)  # the last accepted time step: a code works once
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
