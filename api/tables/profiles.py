"""Topics, learner profiles, mentor profiles and their weekly availability."""
from __future__ import annotations

import enum
from datetime import date, datetime, time

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Date,
    Enum,
    FetchedValue,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.extensions import db
from api.tables.types import UTCDateTime, utcnow


class Topic(db.Model):
    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    category: Mapped[str] = mapped_column(String(64), index=True)


learner_topics = Table(
    "learner_topics",
    db.metadata,
    Column("learner_id", ForeignKey("learner_profiles.user_id", ondelete="CASCADE"), primary_key=True),
    Column("topic_id", ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True),
)

mentor_topics = Table(
    "mentor_topics",
    db.metadata,
    Column("mentor_id", ForeignKey("mentor_profiles.user_id", ondelete="CASCADE"), primary_key=True),
    Column("topic_id", ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class LearnerProfile(db.Model):
    __tablename__ = "learner_profiles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    interests: Mapped[str] = mapped_column(Text, default="")
    preferred_slots: Mapped[list] = mapped_column(JSON, default=list)  # [{"weekday", "start", "end"}]
    picture_path: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    topics: Mapped[list[Topic]] = relationship(secondary=learner_topics, lazy="selectin")


class MentorStatus(str, enum.Enum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUSPENDED = "suspended"


class MentorProfile(db.Model):
    __tablename__ = "mentor_profiles"
    __table_args__ = (
        CheckConstraint("price_minor >= 0", name="ck_mentor_price_nonnegative"),
        CheckConstraint("session_minutes between 15 and 240", name="ck_mentor_session_minutes"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    headline: Mapped[str] = mapped_column(String(200), default="")
    bio: Mapped[str] = mapped_column(Text, default="")
    years_experience: Mapped[int] = mapped_column(Integer, default=0)
    past_roles: Mapped[list] = mapped_column(JSON, default=list)  # ["Senior engineer at Acme", ...]
    languages: Mapped[list] = mapped_column(JSON, default=list)  # ISO 639-1 codes
    price_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    session_minutes: Mapped[int] = mapped_column(Integer, default=60)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    status: Mapped[MentorStatus] = mapped_column(
        Enum(MentorStatus, name="mentor_status", values_callable=lambda e: [m.value for m in e]),
        default=MentorStatus.PENDING,
        index=True,
    )
    status_reason: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    picture_path: Mapped[str | None] = mapped_column(String(255))
    video_path: Mapped[str | None] = mapped_column(String(255))
    video_url: Mapped[str | None] = mapped_column(String(500))
    accepts_questions: Mapped[bool] = mapped_column(default=False)
    rating_count: Mapped[int] = mapped_column(Integer, default=0)
    rating_sum: Mapped[int] = mapped_column(Integer, default=0)
    # Ranking columns for search (migration 0009_search_perf): written by database triggers on every rating,
    # price and booking change and reconciled by `api.search.ranking_columns.refresh`; never set them here.
    bayes_score: Mapped[float] = mapped_column(Float, server_default="0", server_onupdate=FetchedValue())
    price_usd_minor: Mapped[float] = mapped_column(Float, server_default="0", server_onupdate=FetchedValue())
    completed_90d: Mapped[int] = mapped_column(Integer, server_default="0", server_onupdate=FetchedValue())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    topics: Mapped[list[Topic]] = relationship(secondary=mentor_topics, lazy="selectin")
    certifications: Mapped[list["Certification"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )
    availability: Mapped[list["AvailabilityRule"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="AvailabilityRule.weekday"
    )

    @property
    def rating_average(self) -> float | None:
        return self.rating_sum / self.rating_count if self.rating_count else None


class Certification(db.Model):
    __tablename__ = "certifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    mentor_id: Mapped[int] = mapped_column(ForeignKey("mentor_profiles.user_id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(String(200), default="")
    year: Mapped[int | None] = mapped_column(Integer)
    document_path: Mapped[str | None] = mapped_column(String(255))


class AvailabilityRule(db.Model):
    """A weekly window in the mentor's own time zone, e.g. Monday 09:00-12:00 Europe/Berlin."""

    __tablename__ = "availability_rules"
    __table_args__ = (
        CheckConstraint("weekday between 0 and 6", name="ck_availability_weekday"),
        CheckConstraint("start_time < end_time", name="ck_availability_order"),
        Index("ix_availability_rules_zone_day_window", "timezone", "weekday", "start_time", "end_time", "mentor_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mentor_id: Mapped[int] = mapped_column(ForeignKey("mentor_profiles.user_id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)  # Monday = 0
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)
    timezone: Mapped[str] = mapped_column(String(64))


class AvailabilityException(db.Model):
    """A date on which the weekly rules do not apply: a holiday (no window) or replacement hours."""

    __tablename__ = "availability_exceptions"
    __table_args__ = (UniqueConstraint("mentor_id", "on_date", "start_time", name="uq_availability_exception"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mentor_id: Mapped[int] = mapped_column(ForeignKey("mentor_profiles.user_id", ondelete="CASCADE"), index=True)
    on_date: Mapped[date] = mapped_column(Date)
    start_time: Mapped[time | None] = mapped_column(Time)  # both null: unavailable all day
    end_time: Mapped[time | None] = mapped_column(Time)
    note: Mapped[str] = mapped_column(String(200), default="")
