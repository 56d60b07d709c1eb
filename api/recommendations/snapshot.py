"""The catalogue snapshot: everything a recommendation request reads from memory, built in bulk in one place.

`build_snapshot` reads the approved mentors (prices, topics, ratings, popularity, the booking matrix) and
every learner's interests, well-rated past mentors and booking history in a handful of queries, and returns
one frozen `Snapshot`. `api.recommendations.caches` keeps the current one and decides when to build the next.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

import numpy as np
import scipy.sparse as sp
import sqlalchemy as sa

from api.extensions import db
from api.search import availability, free_slots, query
from api.search.currency import convert_minor
from api.search.filters import AvailabilityWindow
from api.search.query import MentorCard
from api.settings import Settings, current_settings
from api.tables import (
    Booking,
    BookingStatus,
    LearnerProfile,
    MentorProfile,
    MentorStatus,
    Review,
    Topic,
    User,
    learner_topics,
    mentor_topics,
)
from models import clock
from serving.recommend import Catalogue, Learner

UTC = timezone.utc
# a learner's past mentors: every booking but a declined or expired request
BOOKED_STATUSES = ("requested", "accepted", "completed", "cancelled_by_learner", "cancelled_by_mentor", "no_show")
# "gone quiet": a request still waiting or expired unanswered; an answer is any of the others but a cancellation by
# the learner before it was answered (an accepted request may be cancelled later: it was answered)
UNANSWERED_STATUSES = ("requested", "expired")
ANSWERED_STATUSES = ("accepted", "rejected", "completed", "cancelled_by_mentor", "no_show")
BOOK_AGAIN_MIN_RATING = 4.0  # the learner's own average rating of a past mentor for the "Book again" row
HISTORY_LIMIT = 200  # past mentors kept per learner
CARD_CHUNK = 2000  # mentors per card query


@dataclass(frozen=True)
class LearnerIndex:
    """Every learner's interests and booked mentors, built in bulk with the catalogue."""

    learners: dict[int, Learner]
    """By user id: interest topics and text, past mentors (newest first), past mentors rated well."""
    max_user_id: int
    """The highest user id when it was built: a higher one is a newer account, read from the database."""
    started: float
    """time.time() when the build started: changes committed after it are not in it."""


@dataclass(frozen=True)
class Snapshot:
    """The approved mentors and the learners as one request of the tier reads them, never changed once built
    (only its two memo dictionaries fill up as requests ask)."""

    catalogue: Catalogue
    """The approved, active mentors as arrays in mentor id order (serving.recommend.Catalogue)."""
    prices: np.ndarray
    """Each catalogue mentor's price per session, in minor units of their own currency (float64)."""
    currencies: list[str]
    """Each catalogue mentor's currency."""
    zones: list[tuple[int, str]]
    """Each catalogue mentor's session length in minutes and time zone."""
    learners: LearnerIndex
    """Every learner's context, built with the catalogue."""
    built: float
    """time.time() when the build ended: availability masks over this catalogue are kept under it."""
    cards: dict[str, dict[int, MentorCard]] = field(default_factory=dict)
    """Result cards by display currency, then mentor id (a miss is loaded and added: `caches.cards`)."""
    converted: dict[str, np.ndarray] = field(default_factory=dict)
    """`prices` in a display currency, made on first use (`converted_prices`)."""

    def converted_prices(self, currency: str) -> np.ndarray:
        """Every catalogue mentor's price in this currency: money's one conversion rule, once per currency."""
        found = self.converted.get(currency)
        if found is None:
            memo: dict = {}  # few distinct (price, currency) pairs
            found = np.asarray([memo[key] if key in memo else memo.setdefault(key, convert_minor(*key, currency))
                                for key in zip(self.prices.astype(np.int64).tolist(), self.currencies)],
                               dtype=np.float64)
            self.converted[currency] = found
        return found


def build_snapshot(now: datetime | None = None, card_currencies=()) -> Snapshot:
    """A new snapshot, with the cards of these currencies (those the previous one served)."""
    started = time.time()
    now = now or clock.now()
    rows = _approved_mentors()
    position = {row.user_id: i for i, row in enumerate(rows)}
    bookings = _bookings(position)
    catalogue = _catalogue(rows, position, bookings, now, current_settings())
    return Snapshot(catalogue=catalogue, prices=np.asarray([r.price_minor for r in rows], dtype=np.float64),
                    currencies=[r.currency or "USD" for r in rows],
                    zones=[(int(r.session_minutes or 60), r.timezone or "UTC") for r in rows],
                    learners=build_learner_index(bookings.history, started), built=time.time(),
                    cards=all_cards(catalogue, card_currencies))


# ---------------------------------------------------------------- the mentors


def _approved_mentors() -> list:
    return db.session.execute(
        sa.select(MentorProfile.user_id, User.full_name, MentorProfile.rating_sum, MentorProfile.rating_count,
                  MentorProfile.price_minor, MentorProfile.currency, MentorProfile.created_at,
                  MentorProfile.reviewed_at, MentorProfile.session_minutes, MentorProfile.timezone)
        .join(User, User.id == MentorProfile.user_id)
        .where(MentorProfile.status == MentorStatus.APPROVED, User.is_active_account.is_(True))
        .order_by(MentorProfile.user_id)).all()


def _catalogue(rows: list, position: dict[int, int], bookings: _Bookings, now: datetime,
               settings: Settings) -> Catalogue:
    size = len(rows)
    completed_total, popularity = _completed_sessions(position, now - timedelta(days=settings.search_popularity_days))
    rating_count = np.asarray([r.rating_count or 0 for r in rows], dtype=np.float64)
    rating_sum = np.asarray([r.rating_sum or 0 for r in rows], dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        rating_avg = np.where(rating_count > 0, rating_sum / np.maximum(rating_count, 1), np.nan)
    is_new = _recently_approved(rows, now - timedelta(days=settings.serving_new_mentor_days)) & (
        completed_total < settings.serving_new_mentor_sessions)
    return Catalogue(mentor_ids=np.asarray([r.user_id for r in rows], dtype=np.int64),
                     names=[r.full_name for r in rows], topics=_mentor_topics(position, size),
                     topic_names={t.id: t.name for t in db.session.execute(sa.select(Topic.id, Topic.name))},
                     rating_avg=rating_avg, rating_count=rating_count, popularity=popularity, is_new=is_new,
                     bookings=bookings.matrix, learner_rows=bookings.learner_rows, position=position,
                     silent_since=_silent_since(position, size))


def _mentor_topics(position: dict[int, int], size: int) -> list[tuple[int, ...]]:
    topics: list[list[int]] = [[] for _ in range(size)]
    for mentor_id, topic_id in db.session.execute(sa.select(mentor_topics.c.mentor_id, mentor_topics.c.topic_id)):
        if mentor_id in position:
            topics[position[mentor_id]].append(int(topic_id))
    return [tuple(t) for t in topics]


def _completed_sessions(position: dict[int, int], since: datetime) -> tuple[np.ndarray, np.ndarray]:
    """Per catalogue mentor: completed sessions in all, and those that ended after `since` (popularity)."""
    total, recent = np.zeros(len(position)), np.zeros(len(position))
    in_window = sa.func.sum(sa.case((Booking.ends_at >= since, 1), else_=0))
    completed = (sa.select(Booking.mentor_id, sa.func.count(), in_window)
                 .where(Booking.status == BookingStatus.COMPLETED).group_by(Booking.mentor_id))
    for mentor_id, count, in_since in db.session.execute(completed):
        pos = position.get(mentor_id)
        if pos is not None:
            total[pos], recent[pos] = count, in_since or 0
    return total, recent


def _recently_approved(rows: list, since: datetime) -> np.ndarray:
    """Per catalogue mentor: approved (or, never reviewed, signed up) since then."""
    return np.asarray([(r.reviewed_at or r.created_at) is not None and _aware(r.reviewed_at or r.created_at) >= since
                       for r in rows], dtype=bool)


def _silent_since(position: dict[int, int], size: int) -> np.ndarray:
    """Per catalogue mentor, when the oldest request they left unanswered after the newest request they did answer
    was made (epoch seconds; +inf: none), for the "gone quiet" rule (serving.candidates)."""
    out = np.full(size, np.inf)
    answered = (sa.select(Booking.mentor_id.label("mentor_id"), sa.func.max(Booking.created_at).label("last"))
                .where(Booking.status.in_(ANSWERED_STATUSES)).group_by(Booking.mentor_id).subquery())
    statement = (sa.select(Booking.mentor_id, sa.func.min(Booking.created_at))
                 .outerjoin(answered, answered.c.mentor_id == Booking.mentor_id)
                 .where(Booking.status.in_(UNANSWERED_STATUSES),
                        sa.or_(answered.c.last.is_(None), Booking.created_at > answered.c.last))
                 .group_by(Booking.mentor_id))
    for mentor_id, since in db.session.execute(statement):
        pos = position.get(mentor_id)
        if pos is not None and since is not None:
            out[pos] = _aware(since).timestamp()
    return out


# ---------------------------------------------------------------- the bookings and the learners


@dataclass(frozen=True)
class _Bookings:
    history: dict[int, dict[int, None]]  # learner -> booked mentors (any mentor), newest session first
    matrix: sp.csc_matrix  # learners x catalogue mentors, 1 where the learner booked the mentor
    learner_rows: dict[int, int]  # learner -> row of the matrix


def _bookings(position: dict[int, int]) -> _Bookings:
    """Every booking but a declined or expired request, read once for both the learners and the catalogue."""
    history: dict[int, dict[int, None]] = {}
    learner_rows: dict[int, int] = {}
    pair_rows, pair_cols = [], []
    # (two whole-number columns through Core: no ORM rows, no timestamps to convert, for every booking)
    for mentor_id, learner_id in db.session.connection().execute(
            sa.select(Booking.mentor_id, Booking.learner_id).where(Booking.status.in_(BOOKED_STATUSES))
            .order_by(Booking.starts_at.desc(), Booking.id.desc())):
        booked = history.setdefault(learner_id, {})
        if len(booked) < HISTORY_LIMIT:
            booked.setdefault(mentor_id)
        pos = position.get(mentor_id)
        if pos is not None:
            pair_rows.append(learner_rows.setdefault(learner_id, len(learner_rows)))
            pair_cols.append(pos)
    matrix = sp.csc_matrix((np.ones(len(pair_rows)), (pair_rows, pair_cols)),
                           shape=(max(len(learner_rows), 1), len(position)))
    matrix.sum_duplicates()
    matrix.data = np.minimum(matrix.data, 1.0)
    return _Bookings(history=history, matrix=matrix, learner_rows=learner_rows)


def build_learner_index(history: dict[int, dict[int, None]], started: float) -> LearnerIndex:
    """Profiles, interest topics and booking histories of every learner (three bulk queries)."""
    connection = db.session.connection()  # (Core rows: no ORM loading for every learner)
    topics: dict[int, list[int]] = {}
    for learner_id, topic_id in connection.execute(sa.select(learner_topics.c.learner_id, learner_topics.c.topic_id)):
        topics.setdefault(learner_id, []).append(topic_id)
    rated: dict[int, list[tuple[int, float]]] = {}
    for learner_id, mentor_id, rating in connection.execute(rated_well()):
        rated.setdefault(learner_id, []).append((int(mentor_id), float(rating)))
    learners: dict[int, Learner] = {}
    for user_id, interests in connection.execute(sa.select(LearnerProfile.user_id, LearnerProfile.interests)):
        learners[user_id] = Learner(id=user_id, interest_topics=tuple(topics.pop(user_id, ())),
                                    interests_text=interests or "", booked=tuple(history.get(user_id, ())),
                                    rated_well=tuple(rated.get(user_id, ())))
    for learner_id, booked in history.items():
        if learner_id not in learners:
            learners[learner_id] = Learner(id=learner_id, interest_topics=tuple(topics.pop(learner_id, ())),
                                           booked=tuple(booked), rated_well=tuple(rated.get(learner_id, ())))
    for learner_id, ts in topics.items():
        learners[learner_id] = Learner(id=learner_id, interest_topics=tuple(ts))
    max_user_id = int(db.session.execute(sa.select(sa.func.max(User.id))).scalar() or 0)
    return LearnerIndex(learners=learners, max_user_id=max_user_id, started=started)


def rated_well(learner_id: int | None = None):
    """(learner, mentor) pairs the learner rated at least BOOK_AGAIN_MIN_RATING on average, the most recently
    rated first."""
    statement = (sa.select(Review.learner_id, Review.mentor_id, sa.func.avg(Review.rating))
                 .group_by(Review.learner_id, Review.mentor_id)
                 .having(sa.func.avg(Review.rating) >= BOOK_AGAIN_MIN_RATING)
                 .order_by(Review.learner_id, sa.func.max(Review.created_at).desc(), Review.mentor_id))
    return statement if learner_id is None else statement.where(Review.learner_id == learner_id)


# ---------------------------------------------------------------- cards and free mentors


def all_cards(cat: Catalogue, currencies) -> dict[str, dict[int, MentorCard]]:
    """Every catalogue mentor's card in each of these currencies: loaded once, the others converted from it
    (only the display price differs)."""
    currencies = list(dict.fromkeys(currencies))
    if not currencies:
        return {}
    ids = cat.mentor_ids.tolist()
    first: dict = {}
    for start in range(0, len(ids), CARD_CHUNK):
        first.update((card.id, card) for card in query.load_cards(ids[start:start + CARD_CHUNK], currencies[0],
                                                                   clock.now()))
    out = {currencies[0]: first}
    for currency in currencies[1:]:
        out[currency] = {mentor_id: replace(card, display_currency=currency,
                                            display_price_minor=convert_minor(card.price_minor, card.currency,
                                                                              currency))
                         for mentor_id, card in first.items()}
    return out


def free_mentors(snapshot: Snapshot, window: AvailabilityWindow, now: datetime) -> set[int]:
    """Approved, active mentors with a free slot in the window: the search's precomputed free-slot index."""
    days = len(window.utc_intervals())
    if not days or not len(snapshot.catalogue):
        return set()
    free_slots.ensure_fresh(wait=True)  # the first build must be complete: an empty index would answer "nobody"
    approved = (sa.select(MentorProfile.user_id).join(User, User.id == MentorProfile.user_id)
                .where(MentorProfile.status == MentorStatus.APPROVED, User.is_active_account.is_(True)))
    statement = sa.select(MentorProfile.user_id).where(MentorProfile.user_id.in_(approved),
                                                       availability.free_slot_condition(days))
    return set(db.session.execute(statement, availability.free_slot_params(window, now)).scalars())


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
