"""Review reports, and where the search indexes live.

The full-text indexes are not mapped: PostgreSQL keeps `mentor_profiles.search_vector` (tsvector,
GIN-indexed) and SQLite the FTS5 table `mentor_search`, both maintained by database triggers
(migration 0005_discovery) and read only by `api.search.query`.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, PrimaryKeyConstraint, String, UniqueConstraint
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


class MentorFreeSlot(db.Model):
    """One slot a mentor offers and nobody has taken, precomputed for the search's availability filter.

    Times are Unix seconds (UTC): compact keys that compare fast on both databases. `opens_at` / `closes_at`:
    from when until when the mentor's policy lets a learner request it (its start minus the horizon, and
    minus the minimum notice). Rows are written only by `api.search.free_slots`.
    """

    __tablename__ = "mentor_free_slots"
    __table_args__ = (  # the primary key holds every column the search reads: each probe is index-only
        PrimaryKeyConstraint("mentor_id", "starts_at", name="pk_mentor_free_slots",
                             postgresql_include=["ends_at", "opens_at", "closes_at"]),
        {"sqlite_with_rowid": False},
    )

    mentor_id: Mapped[int] = mapped_column(ForeignKey("mentor_profiles.user_id", ondelete="CASCADE"))
    starts_at: Mapped[int] = mapped_column(BigInteger)
    ends_at: Mapped[int] = mapped_column(BigInteger)
    opens_at: Mapped[int] = mapped_column(BigInteger)
    closes_at: Mapped[int] = mapped_column(BigInteger)
