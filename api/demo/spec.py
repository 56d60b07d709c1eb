"""The demo world's shape: what to generate (`WorldSpec`), what comes out (`World`), constants and time helpers."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import click
import numpy as np

from models import clock

DAY = 86_400
HOUR = 3_600
PAGE_SIZE = 10
BOOKING_HORIZON_DAYS = 21  # how far ahead learners book
EMAIL_VERIFY_DELAY = 600

# Order of insertion (foreign keys first); also the keys of the counts returned.
TABLE_ORDER = (
    "topics", "users", "user_roles", "uploads", "learner_profiles", "learner_topics", "mentor_profiles",
    "mentor_topics", "certifications", "availability_rules", "availability_exceptions", "chat_rooms",
    "messages", "bookings", "payments", "payment_checkouts", "refunds", "reviews", "learner_ratings", "events",
)

LANGUAGE_TOPIC_CODES = {"english": "en", "spanish": "es", "french": "fr", "german": "de", "japanese": "ja",
                        "mandarin": "zh"}
CERTIFICATE_NAME = "demo-certificate-{id:05d}.pdf"  # an upload of its mentor's, as the media route serves


class WorldExistsError(click.ClickException):
    """The database already has users: the demo world goes into an empty database only."""


@dataclass(frozen=True)
class WorldSpec:
    """What to generate: sizes, the simulated period and the random seed."""

    learners: int = 400
    mentors: int = 80
    days: int = 120
    seed: int = 42
    until: date | None = None  # last simulated day (UTC); None: today

    def last_day(self) -> date:
        return self.until or clock.today()


@dataclass
class World:
    """A generated world: the rows of every table plus the hidden truths behind them."""

    spec: WorldSpec
    starts_at: datetime  # first simulated instant (UTC)
    now: datetime  # end of the window: midnight after `until`
    topic_ids: list[int]
    topic_slugs: list[str]
    learner_ids: list[int]
    mentor_ids: list[int]
    tastes: np.ndarray  # learners x topics, each row sums to 1 (hidden)
    price_sensitivity: np.ndarray  # per learner (hidden)
    experience_preference: np.ndarray  # per learner (hidden)
    rating_preference: np.ndarray  # per learner (hidden)
    mentor_quality: np.ndarray  # per mentor, 0..1 (hidden)
    rows: dict[str, list[dict]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {name: len(self.rows[name]) for name in TABLE_ORDER}

    def top_topic_id(self, learner_id: int) -> int:
        row = self.tastes[self.learner_ids.index(learner_id)]
        return self.topic_ids[int(np.argmax(row))]

    def quality_of(self, mentor_id: int) -> float:
        return float(self.mentor_quality[self.mentor_ids.index(mentor_id)])


class SeedCounts(dict):
    """Rows written per table (what the CLI prints), with the generated `world` attached."""

    world: World


# ---------------------------------------------------------------------------------------------
# time helpers


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(int(epoch), timezone.utc)


@lru_cache(maxsize=None)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=200_000)
def _utc_offset(zone: str, ordinal: int) -> int:
    """The zone's UTC offset in seconds at local noon of a date (for session times only)."""
    d = date.fromordinal(ordinal)
    return int(datetime(d.year, d.month, d.day, 12, tzinfo=_zone(zone)).utcoffset().total_seconds())


def _local_date(epoch: int, zone: str) -> date:
    return datetime.fromtimestamp(epoch, _zone(zone)).date()


def _hm(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace("'", "")


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))
