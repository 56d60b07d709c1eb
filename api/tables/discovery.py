"""Review reports, and where the search indexes live.

The full-text indexes are not mapped: PostgreSQL keeps `mentor_profiles.search_vector` (tsvector,
GIN-indexed) and SQLite the FTS5 table `mentor_search`, both maintained by database triggers
(migration 0005_discovery) and read only by `api.search.query`.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.extensions import db
from api.tables.types import UTCDateTime, utcnow


class ReviewReport(db.Model):
    """One user's report of one review (a user reports a review at most once)."""

    __tablename__ = "review_reports"
    __table_args__ = (UniqueConstraint("review_id", "reporter_id", name="uq_review_report_reporter"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"), index=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
