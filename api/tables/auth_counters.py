"""Short-lived counters and one-time nonces of the sign-in checks (api.auth.limits)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from api.extensions import db
from api.tables.types import UTCDateTime


class AuthCounter(db.Model):
    """One counter (failed log-ins of an account from an IP, codes sent to an account...) or one nonce.

    `key` names the scope and a hash of who is counted (no e-mail address or IP is stored in plain);
    the row counts within a window that ends at `window_ends_at`, after which the next hit starts again.
    """

    __tablename__ = "auth_counters"
    __table_args__ = (Index("ix_auth_counters_window_ends_at", "window_ends_at"),)

    key: Mapped[str] = mapped_column(String(96), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    window_ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
