"""What admins tune: model settings, A/B experiments and their arms."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.extensions import db
from api.tables.types import UTCDateTime, utcnow


class ModelSetting(db.Model):
    """One named, JSON-valued setting (re-ranking weights, candidate rules, retraining schedule...)."""

    __tablename__ = "model_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class AbExperiment(db.Model):
    __tablename__ = "ab_experiments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft | running | stopped | concluded
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    arms: Mapped[list["AbArm"]] = relationship(cascade="all, delete-orphan", lazy="selectin", order_by="AbArm.id")


class AbArm(db.Model):
    __tablename__ = "ab_arms"
    __table_args__ = (
        UniqueConstraint("experiment_id", "name", name="uq_ab_arm_name"),
        CheckConstraint("traffic_share >= 0 and traffic_share <= 1", name="ck_ab_arm_share"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("ab_experiments.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    model_alias: Mapped[str | None] = mapped_column(String(64))  # champion | challenger
    model_version: Mapped[str | None] = mapped_column(String(64))
    rerank_weights: Mapped[dict] = mapped_column(JSON, default=dict)
    traffic_share: Mapped[float] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(default=True)
