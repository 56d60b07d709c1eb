"""The app's side of serving: candidates from the database (cached), the learner, the A/B arm, the exposure.

`recommend_for(learner_id, filters, k, source)` is the one entry point the routes, the home-page
section and the search blend use. Everything here degrades instead of failing: no registry or no
model means popularity, a database hiccup while refreshing a cache keeps the previous one.

The request path is in memory: the catalogue (approved mentors, prices, topics, popularity, the
booking matrix) and every learner's profile and booking history are built together in bulk, cached
for `serving_catalogue_seconds` and rebuilt in the background; a learner whose bookings or profile
changed since the cache was built (seen on commit) is read from the database instead. Free-slot masks
per availability window are cached too and refreshed in the background when stale. The exposure
event gets its id at once and is written by a background batch writer (`exposures`).
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time as dtime, timedelta, timezone

import numpy as np
import sqlalchemy as sa
from flask import current_app

from models import clock
from api import hooks
from api.extensions import db
from api.recommendations import exposures
from api.search import availability, free_slots, query
from api.search.currency import convert_minor, supported_currencies
from api.search.filters import END_OF_DAY, AvailabilityWindow, SearchFilters
from api.tables import (
    Booking,
    BookingStatus,
    LearnerProfile,
    MentorProfile,
    MentorStatus,
    ModelSetting,
    Review,
    Role,
    Topic,
    User,
    UserRole,
    learner_topics,
    mentor_topics,
    utcnow,
)
from serving import ab
from serving.candidates import REFERENCE_CURRENCY, CandidateRules, booked_mask, rule_mask
from serving.recommend import DEFAULT_BLEND, Catalogue, Learner, Ranked, merge_weights, recommend
from serving.registry import ModelRegistry

logger = logging.getLogger(__name__)
UTC = timezone.utc
EXTENSION = "serving"
WEIGHTS_KEY = "rerank_weights"
RULES_KEY = "ranking.candidate_rules"
BLEND_KEY = "ranking.hybrid_blend"
# a learner's past mentors: every booking but a declined or expired request
BOOKED_STATUSES = ("requested", "accepted", "completed", "cancelled_by_learner", "cancelled_by_mentor", "no_show")
# "gone quiet": a request still waiting or expired unanswered; an answer is any of the others but a cancellation by
# the learner before it was answered (an accepted request may be cancelled later: it was answered)
UNANSWERED_STATUSES = ("requested", "expired")
ANSWERED_STATUSES = ("accepted", "rejected", "completed", "cancelled_by_mentor", "no_show")
BOOK_AGAIN_MIN_RATING = 4.0  # the learner's own average rating of a past mentor for the "Book again" row


def _settings():
    return current_app.config["MENTORHUB_SETTINGS"]


@dataclass
class _Cached:
    value: object
    expires: float


@dataclass
class ServingState:
    """Per-app serving state: the registry and the caches (catalogue, availability, experiment, weights)."""

    registry: ModelRegistry
    lock: threading.Lock = field(default_factory=threading.Lock)
    catalogue: _Cached | None = None
    catalogue_building: bool = False
    prices: dict = field(default_factory=dict)  # currency -> converted price array (per catalogue)
    windows: dict = field(default_factory=dict)  # window key -> _Cached(set of free mentor ids)
    window_locks: dict = field(default_factory=dict)  # window key -> lock held while it is first computed
    windows_computing: set = field(default_factory=set)  # windows a background thread is computing
    experiment: _Cached | None = None
    weights: _Cached | None = None
    model_settings: _Cached | None = None  # every ModelSetting row (key -> value), dropped when an admin saves
    last_ab_check: float = field(default_factory=time.monotonic)


def state(app=None) -> ServingState:
    """The app's serving state, made on first use (the registry polls MLflow lazily, never at start-up)."""
    app = app or current_app._get_current_object()
    found = app.extensions.get(EXTENSION)
    if found is None:
        settings = app.config["MENTORHUB_SETTINGS"]
        found = ServingState(registry=ModelRegistry(
            settings.mlflow_uri, poll_seconds=settings.serving_poll_seconds,
            first_load_wait_seconds=settings.serving_first_load_wait_seconds))
        app.extensions[EXTENSION] = found
    return found


# ---------------------------------------------------------------- catalogue


def build_catalogue(now: datetime | None = None) -> tuple[Catalogue, np.ndarray, list[str], list[tuple[int, str]]]:
    """Approved, active mentors with what re-ranking and reasons need (a handful of queries)."""
    settings = _settings()
    now = now or clock.now()
    rows = db.session.execute(
        sa.select(MentorProfile.user_id, User.full_name, MentorProfile.rating_sum, MentorProfile.rating_count,
                  MentorProfile.price_minor, MentorProfile.currency, MentorProfile.created_at,
                  MentorProfile.reviewed_at, MentorProfile.session_minutes, MentorProfile.timezone)
        .join(User, User.id == MentorProfile.user_id)
        .where(MentorProfile.status == MentorStatus.APPROVED, User.is_active_account.is_(True))
        .order_by(MentorProfile.user_id)).all()
    ids = np.asarray([r.user_id for r in rows], dtype=np.int64)
    position = {int(m): i for i, m in enumerate(ids.tolist())}
    topics: list[list[int]] = [[] for _ in rows]
    for mentor_id, topic_id in db.session.execute(sa.select(mentor_topics.c.mentor_id, mentor_topics.c.topic_id)):
        if mentor_id in position:
            topics[position[mentor_id]].append(int(topic_id))
    names = {t.id: t.name for t in db.session.execute(sa.select(Topic.id, Topic.name))}
    since = now - timedelta(days=settings.search_popularity_days)
    popularity = np.zeros(len(rows))  # completed sessions in the popularity window
    completed_total = np.zeros(len(rows))
    in_window = sa.func.sum(sa.case((Booking.ends_at >= since, 1), else_=0))
    completed = (sa.select(Booking.mentor_id, sa.func.count(), in_window)
                 .where(Booking.status == BookingStatus.COMPLETED).group_by(Booking.mentor_id))
    for mentor_id, total, recent in db.session.execute(completed):
        pos = position.get(mentor_id)
        if pos is not None:
            completed_total[pos], popularity[pos] = total, recent or 0
    learner_rows: dict[int, int] = {}
    pair_rows, pair_cols = [], []
    history: dict[int, dict[int, None]] = {}  # learner -> booked mentors, newest session first
    # (two whole-number columns through Core: no ORM rows, no timestamps to convert, for every booking)
    for mentor_id, learner_id in db.session.connection().execute(
            sa.select(Booking.mentor_id, Booking.learner_id).where(Booking.status.in_(BOOKED_STATUSES))
            .order_by(Booking.starts_at.desc(), Booking.id.desc())):
        booked = history.setdefault(learner_id, {})
        if len(booked) < 200:
            booked.setdefault(mentor_id)
        pos = position.get(mentor_id)
        if pos is not None:
            pair_rows.append(learner_rows.setdefault(learner_id, len(learner_rows)))
            pair_cols.append(pos)
    import scipy.sparse as sp

    bookings = sp.csc_matrix((np.ones(len(pair_rows)), (pair_rows, pair_cols)),
                             shape=(max(len(learner_rows), 1), len(rows)))
    bookings.data[:] = 1.0
    bookings.sum_duplicates()
    bookings.data = np.minimum(bookings.data, 1.0)
    new_since = now - timedelta(days=settings.serving_new_mentor_days)
    is_new = np.asarray([_aware(r.reviewed_at or r.created_at) >= new_since if (r.reviewed_at or r.created_at)
                         else False for r in rows], dtype=bool) & (completed_total < settings.serving_new_mentor_sessions)
    rating_count = np.asarray([r.rating_count or 0 for r in rows], dtype=np.float64)
    rating_sum = np.asarray([r.rating_sum or 0 for r in rows], dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        rating_avg = np.where(rating_count > 0, rating_sum / np.maximum(rating_count, 1), np.nan)
    catalogue = Catalogue(mentor_ids=ids, names=[r.full_name for r in rows], topics=[tuple(t) for t in topics],
                          topic_names=names, rating_avg=rating_avg, rating_count=rating_count, popularity=popularity,
                          is_new=is_new, bookings=bookings, learner_rows=learner_rows, position=position)
    prices = np.asarray([r.price_minor for r in rows], dtype=np.float64)
    currencies = [r.currency or "USD" for r in rows]
    zones = [(int(r.session_minutes or 60), r.timezone or "UTC") for r in rows]
    catalogue.booking_history = history  # for the learner index built with it
    catalogue.silent_since = _silent_since(position, len(rows))
    return catalogue, prices, currencies, zones


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


@dataclass
class LearnerIndex:
    """Every learner's interests and booked mentors, built in bulk with the catalogue."""

    learners: dict[int, Learner]
    max_user_id: int  # a user id above this was created after the build: read from the database
    started: float  # time.time() when the build started (changes committed after it are not in it)


_changed_learners: dict[int, float] = {}  # learner id -> time.time() of the commit that changed them
CHANGE_HOOK = "recommendations.changed_learners"


def build_learner_index(history: dict[int, dict[int, None]], started: float) -> LearnerIndex:
    """Profiles, interest topics and booking histories of every learner (three bulk queries)."""
    connection = db.session.connection()  # (Core rows: no ORM loading for every learner)
    topics: dict[int, list[int]] = {}
    for learner_id, topic_id in connection.execute(sa.select(learner_topics.c.learner_id, learner_topics.c.topic_id)):
        topics.setdefault(learner_id, []).append(topic_id)
    rated: dict[int, list[tuple[int, float]]] = {}
    for learner_id, mentor_id, rating in connection.execute(_rated_well()):
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


def _rated_well(learner_id: int | None = None):
    """(learner, mentor) pairs the learner rated at least BOOK_AGAIN_MIN_RATING on average, the most recently
    rated first."""
    statement = (sa.select(Review.learner_id, Review.mentor_id, sa.func.avg(Review.rating))
                 .group_by(Review.learner_id, Review.mentor_id)
                 .having(sa.func.avg(Review.rating) >= BOOK_AGAIN_MIN_RATING)
                 .order_by(Review.learner_id, sa.func.max(Review.created_at).desc(), Review.mentor_id))
    return statement if learner_id is None else statement.where(Review.learner_id == learner_id)


def install_hooks(app) -> None:
    """Remember, on each commit of `app`, which learners' bookings, reviews or profile changed (their cached
    context is stale)."""
    hooks.install(app, CHANGE_HOOK, {"after_flush": _collect_changed_learners, "after_commit": _mark_changed_learners,
                                     "after_soft_rollback": _forget_changed_learners})


def _collect_changed_learners(session, flush_context) -> None:
    if not hooks.active(CHANGE_HOOK):
        return
    changed = session.info.setdefault("serving_changed_learners", set())
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, (Booking, Review)) and obj.learner_id is not None:
            changed.add(int(obj.learner_id))
        elif isinstance(obj, LearnerProfile) and obj.user_id is not None:
            changed.add(int(obj.user_id))


def _mark_changed_learners(session) -> None:
    changed = session.info.pop("serving_changed_learners", None)
    if changed:
        now = time.time()
        for learner_id in changed:
            _changed_learners[learner_id] = now


def _forget_changed_learners(session, previous_transaction) -> None:
    session.info.pop("serving_changed_learners", None)


def cards(mentor_ids: list[int], currency: str) -> dict:
    """Result cards of these mentors in this currency, cached with the catalogue (same lifetime; a rebuilt
    catalogue comes with the cards of every currency the previous one served); misses are loaded."""
    bundle = catalogue()
    cache = bundle["cards"].setdefault(currency, {})
    out, missing = {}, []
    for mentor_id in mentor_ids:
        card = cache.get(mentor_id)
        if card is None:
            missing.append(mentor_id)
        else:
            out[mentor_id] = card
    if missing:
        for card in query.load_cards(missing, currency, clock.now()):
            cache[card.id] = out[card.id] = card
    return out


def _all_cards(cat: Catalogue, currencies) -> dict[str, dict]:
    """Every catalogue mentor's card in each of these currencies: loaded once, the others converted from it
    (only the display price differs)."""
    currencies = list(dict.fromkeys(currencies))
    if not currencies:
        return {}
    ids = cat.mentor_ids.tolist()
    first: dict = {}
    for start in range(0, len(ids), 2000):
        first.update((card.id, card) for card in query.load_cards(ids[start:start + 2000], currencies[0],
                                                                   clock.now()))
    out = {currencies[0]: first}
    for currency in currencies[1:]:
        out[currency] = {mentor_id: replace(card, display_currency=currency,
                                            display_price_minor=convert_minor(card.price_minor, card.currency,
                                                                              currency))
                         for mentor_id, card in first.items()}
    return out


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def catalogue(now: datetime | None = None) -> dict:
    """The cached catalogue bundle; rebuilt in the background when stale (the first build is synchronous)."""
    st = state()
    cached = st.catalogue
    if cached is not None and cached.expires > time.monotonic():
        return cached.value
    if cached is None:
        with st.lock:
            if st.catalogue is None:
                st.catalogue = _Cached(_bundle(now), time.monotonic() + _settings().serving_catalogue_seconds)
                _forget_changes_before(st.catalogue.value["learners"].started)
        return st.catalogue.value
    if not st.catalogue_building:
        st.catalogue_building = True
        app = current_app._get_current_object()
        threading.Thread(target=_rebuild_in_background, args=(app,), daemon=True).start()
    return cached.value


def warm_up(app, timeout: float = 120.0) -> bool:
    """Load the models and build the catalogue now (a server worker's start, before it takes traffic), so
    the first requests do not pay for it; tells whether a champion model is in memory."""
    with app.app_context():
        loaded = state(app).registry.wait_until_loaded(timeout)
        bundle = catalogue()
        now = clock.now()
        learners = db.session.execute(sa.select(User.timezone, User.currency).distinct().join(
            UserRole, UserRole.user_id == User.id).where(UserRole.role == Role.LEARNER)).all()
        for zone in {"UTC", *(z for z, _c in learners if z)}:  # "free this week" in every learner's zone
            free_in_window(bundle, soon_window(zone, now), now)
        bundle["cards"].update(_all_cards(bundle["catalogue"],  # every learner's currency
                                          ["USD", *sorted({c for _z, c in learners if c in supported_currencies()})]))
        db.session.remove()
    return loaded


def _bundle(now: datetime | None = None, card_currencies=()) -> dict:
    started = time.time()
    cat, prices, currencies, zones = build_catalogue(now)
    learners = build_learner_index(cat.booking_history, started)
    del cat.booking_history
    return {"catalogue": cat, "prices": prices, "currencies": currencies, "zones": zones, "converted": {},
            "built": time.time(), "learners": learners,
            "cards": _all_cards(cat, card_currencies)}


def _forget_changes_before(started: float) -> None:
    """Changes committed well before the learner index now served was built are in it (a minute's margin)."""
    for learner_id, when in list(_changed_learners.items()):
        if when < started - 60:
            _changed_learners.pop(learner_id, None)


def _rebuild_in_background(app) -> None:
    st = state(app)
    try:
        with app.app_context():
            bundle = _bundle(card_currencies=list(st.catalogue.value["cards"]) if st.catalogue else ())
            st.catalogue = _Cached(bundle, time.monotonic() + app.config["MENTORHUB_SETTINGS"].serving_catalogue_seconds)
            _forget_changes_before(bundle["learners"].started)
            db.session.remove()
    except Exception:  # noqa: BLE001 - keep the previous catalogue
        logger.exception("could not refresh the recommendation catalogue")
    finally:
        st.catalogue_building = False


def invalidate(app=None) -> None:
    """Forget the cached catalogue and learners, availability, experiment and weights (tests, admin changes)."""
    st = state(app)
    st.catalogue, st.windows, st.experiment, st.weights, st.model_settings = None, {}, None, None, None


def settings_changed(app=None) -> None:
    """An admin saved a model setting: this process reads them again on its next request (other processes
    within `serving_settings_cache_seconds`)."""
    st = state(app)
    st.weights = st.model_settings = None


def converted_prices(bundle: dict, currency: str) -> np.ndarray:
    found = bundle["converted"].get(currency)
    if found is None:
        # money.convert per price (the one conversion and rounding rule), once per currency and catalogue
        memo: dict = {}  # few distinct (price, currency) pairs
        found = np.asarray([memo[key] if key in memo else memo.setdefault(key, convert_minor(key[0], key[1], currency))
                            for key in zip(bundle["prices"].astype(np.int64).tolist(), bundle["currencies"])],
                           dtype=np.float64)
        bundle["converted"][currency] = found
    return found


def free_in_window(bundle: dict, window: AvailabilityWindow, now: datetime, wait: bool = True) -> np.ndarray:
    """Boolean mask over the catalogue: a free slot inside the window.

    The set of free mentors per window is cached for `serving_availability_cache_seconds`; once stale
    it is still served while one background thread recomputes it. A window never seen is computed once:
    with `wait` (a filter the learner asked for) the request waits for that one computation, however
    many requests ask at the same time; without (the "free this week" ranking signal) the request goes
    on with no one marked free and the set is computed in the background for the next requests. The
    mask over the catalogue is cached per catalogue build.
    """
    st = state()
    hit = st.windows.get(window)
    if hit is None:
        if not wait:
            _compute_window_in_background(window)
            return np.zeros(len(bundle["catalogue"]), dtype=bool)
        with st.window_locks.setdefault(window, threading.Lock()):
            hit = st.windows.get(window)
            if hit is None:
                hit = _store_window(st, window, _free_mentors(bundle, window, now))
        st.window_locks.pop(window, None)
    elif hit.expires <= time.monotonic() and not hit.value["refreshing"]:
        hit.value["refreshing"] = True
        _compute_window_in_background(window, hit)
    value = hit.value
    built = bundle["built"]
    mask = value["masks"].get(built)
    if mask is None:
        cat: Catalogue = bundle["catalogue"]
        free = value["free"]
        mask = np.isin(cat.mentor_ids, np.fromiter(free, dtype=np.int64, count=len(free)))
        value["masks"] = {built: mask}
    return mask


def _store_window(st: ServingState, window: AvailabilityWindow, free: set[int]) -> _Cached:
    hit = st.windows[window] = _Cached({"free": free, "masks": {}, "refreshing": False},
                                       time.monotonic() + _settings().serving_availability_cache_seconds)
    if len(st.windows) > 256:
        for key in list(st.windows)[:64]:
            st.windows.pop(key, None)
    return hit


def _free_mentors(bundle: dict, window: AvailabilityWindow, now: datetime) -> set[int]:
    """Approved, active mentors with a free slot in the window: the search's precomputed free-slot index."""
    days = len(window.utc_intervals())
    if not days or not len(bundle["catalogue"]):
        return set()
    free_slots.ensure_fresh(wait=True)  # the first build must be complete: an empty index would answer "nobody"
    statement = sa.select(MentorProfile.user_id).where(MentorProfile.user_id.in_(_approved_ids_sql()),
                                                       availability.free_slot_condition(days))
    return set(db.session.execute(statement, availability.free_slot_params(window, now)).scalars())


def _compute_window_in_background(window: AvailabilityWindow, stale: _Cached | None = None) -> None:
    """One background computation per window at a time (`stale` is the entry it replaces, if any)."""
    st = state()
    with st.lock:
        if window in st.windows_computing:
            return
        st.windows_computing.add(window)
    threading.Thread(target=_refresh_window, args=(current_app._get_current_object(), window, stale),
                     daemon=True).start()


def _refresh_window(app, window: AvailabilityWindow, stale: _Cached | None) -> None:
    st = state(app)
    try:
        with app.app_context():
            bundle = catalogue()
            _store_window(st, window, _free_mentors(bundle, window, clock.now()))
            db.session.remove()
    except Exception:  # noqa: BLE001 - keep serving the stale set (or none)
        logger.exception("could not compute free slots for %s", window)
        if stale is not None:
            stale.value["refreshing"] = False
    finally:
        st.windows_computing.discard(window)


def _approved_ids_sql():
    return (sa.select(MentorProfile.user_id).join(User, User.id == MentorProfile.user_id)
            .where(MentorProfile.status == MentorStatus.APPROVED, User.is_active_account.is_(True)))


def soon_window(tz: str, now: datetime) -> AvailabilityWindow:
    """'This week': today and the next six days, all day, in the learner's zone."""
    today = now.astimezone(_zone(tz)).date()
    return AvailabilityWindow(start_date=today, end_date=today + timedelta(days=6), day_start=dtime(0),
                              day_end=END_OF_DAY, tz=tz)


def _zone(tz: str):
    from zoneinfo import ZoneInfo

    try:
        return ZoneInfo(tz)
    except Exception:  # noqa: BLE001
        return ZoneInfo("UTC")


# ---------------------------------------------------------------- learner, weights, arm


def learner_context(learner_id: int, bundle: dict | None = None) -> Learner:
    """Interests (topics and text) and booked mentors of the learner: from the cached learner index, or from
    the database when the learner changed (committed) since it was built or is newer than it."""
    bundle = bundle if bundle is not None else catalogue()
    index: LearnerIndex | None = bundle.get("learners")
    if index is not None:
        changed = _changed_learners.get(learner_id)
        if changed is None or changed < index.started:
            found = index.learners.get(learner_id)
            if found is not None:
                return found
            if learner_id <= index.max_user_id:
                return Learner(id=learner_id)
    return learner_from_db(learner_id)


def learner_from_db(learner_id: int) -> Learner:
    """Interests (topics and text) and booked mentors of the learner (three small indexed queries)."""
    interests = db.session.execute(sa.select(LearnerProfile.interests).where(LearnerProfile.user_id == learner_id)
                                   ).scalar() or ""
    topics = tuple(int(t) for t in db.session.execute(
        sa.select(learner_topics.c.topic_id).where(learner_topics.c.learner_id == learner_id)).scalars())
    booked = tuple(dict.fromkeys(int(m) for m in db.session.execute(
        sa.select(Booking.mentor_id).where(Booking.learner_id == learner_id, Booking.status.in_(BOOKED_STATUSES))
        .order_by(Booking.starts_at.desc()).limit(200)).scalars()))
    rated = tuple((int(m), float(r)) for _l, m, r in db.session.execute(_rated_well(learner_id)))
    return Learner(id=learner_id, interest_topics=topics, interests_text=interests, booked=booked, rated_well=rated)


def model_settings() -> dict[str, dict]:
    """Every stored ModelSetting (key -> value), cached for `serving_settings_cache_seconds` and dropped at once
    when an admin saves one (`settings_changed`)."""
    st = state()
    cached = st.model_settings
    if cached is not None and cached.expires > time.monotonic():
        return cached.value
    value = {key: v for key, v in db.session.execute(sa.select(ModelSetting.key, ModelSetting.value))
             if isinstance(v, dict)}
    st.model_settings = _Cached(value, time.monotonic() + _settings().serving_settings_cache_seconds)
    return value


def admin_weights() -> dict:
    """ModelSetting 'rerank_weights' over the defaults (cached briefly)."""
    st = state()
    if st.weights is not None and st.weights.expires > time.monotonic():
        return st.weights.value
    value = merge_weights(model_settings().get(WEIGHTS_KEY))
    st.weights = _Cached(value, time.monotonic() + _settings().serving_settings_cache_seconds)
    return value


def candidate_rules() -> CandidateRules:
    """ModelSetting 'ranking.candidate_rules' over the defaults (serving.candidates)."""
    return CandidateRules.from_setting(model_settings().get(RULES_KEY))


def hybrid_blend() -> dict:
    """ModelSetting 'ranking.hybrid_blend' (content, collaborative, neural) over the defaults."""
    out = dict(DEFAULT_BLEND)
    for key, value in (model_settings().get(BLEND_KEY) or {}).items():
        if key in out:
            try:
                out[key] = max(float(value), 0.0)
            except (TypeError, ValueError):
                continue
    return out


def set_admin_weights(weights: dict, by: int | None = None) -> dict:
    """Store the re-ranking weights (ModelSetting 'rerank_weights'); unknown keys are refused."""
    unknown = set(weights) - set(merge_weights())
    if unknown:
        raise ValueError(f"unknown weights: {', '.join(sorted(unknown))}")
    row = db.session.get(ModelSetting, WEIGHTS_KEY)
    value = {k: float(v) for k, v in weights.items()}
    if row is None:
        db.session.add(ModelSetting(key=WEIGHTS_KEY, value=value, updated_by=by))
    else:
        row.value = {**(row.value or {}), **value}
        row.updated_by = by
    db.session.commit()
    settings_changed()
    return merge_weights(value)


def running_experiment() -> dict | None:
    """The running experiment with its arms (cached briefly)."""
    st = state()
    if st.experiment is not None and st.experiment.expires > time.monotonic():
        return st.experiment.value
    value = ab.running_experiment(db.session)
    st.experiment = _Cached(value, time.monotonic() + _settings().serving_settings_cache_seconds)
    return value


def arm_for(learner_id: int) -> ab.ArmSpec | None:
    experiment = running_experiment()
    if experiment is None:
        return None
    return ab.assign_arm(learner_id, experiment["id"], experiment["arms"])


# ---------------------------------------------------------------- the request


@dataclass
class Recommendations:
    learner_id: int
    picks: list
    source: str
    model_version: str | None
    arm: str | None
    exposure_id: int | None
    fallback: str | None = None  # why the model was not used, when it was not
    book_again: list = field(default_factory=list)  # [(mentor id, the learner's rating)]: past mentors rated well


def candidate_index(bundle: dict, filters: SearchFilters | None, now: datetime, rules: CandidateRules | None = None,
                    booked: tuple[int, ...] = (), tz: str = "UTC") -> np.ndarray:
    """Catalogue positions of the mentors that fit the request's filters and the admin's candidate rules, without
    the `booked` ones (the learner's past mentors, when the rule leaves them out)."""
    cat: Catalogue = bundle["catalogue"]
    mask = None  # every mentor, until a filter narrows it

    def narrow(keep: np.ndarray) -> np.ndarray:
        return keep if mask is None else mask & keep

    if filters is not None:
        if filters.topic_ids:
            # teaches one of the topics: a few rows of the topics x mentors array, not columns of every mentor
            cols = [t for t in filters.topic_ids if t < cat.topic_rows.shape[0]]
            mask = cat.topic_rows[cols].any(axis=0) if cols else np.zeros(len(cat), bool)
        if filters.price_min_minor is not None:
            mask = narrow(converted_prices(bundle, filters.currency) >= filters.price_min_minor)
        if filters.price_max_minor is not None:
            mask = narrow(converted_prices(bundle, filters.currency) <= filters.price_max_minor)
        if filters.availability is not None and len(cat) and (mask is None or mask.any()):
            mask = narrow(free_in_window(bundle, filters.availability, now))  # cached: never changed in place
    if rules is not None:
        keep = rule_mask(rules, cat.rating_avg,
                         converted_prices(bundle, REFERENCE_CURRENCY) if rules.max_price_minor > 0 else None,
                         cat.silent_since, now.timestamp())
        if keep is not None:
            mask = narrow(keep)
        days = rules.require_availability_days
        if days > 0 and len(cat) and (mask is None or mask.any()):  # a free slot from today to N days ahead
            window = default_window(tz, now.astimezone(_zone(tz)).date(), days + 1)
            mask = narrow(free_in_window(bundle, window, now))
    if booked:
        mask = narrow(~booked_mask(len(cat), cat.position, booked))
    return np.arange(len(cat)) if mask is None else np.flatnonzero(mask)


def book_again(learner: Learner, cat: Catalogue, k: int) -> list[tuple[int, float]]:
    """The learner's past mentors they rated well (most recently rated first), still on the catalogue."""
    return [(m, r) for m, r in learner.rated_well if m in cat.position][:k]


def recommend_for(learner_id: int, filters: SearchFilters | None = None, k: int = 10, source: str = "api",
                  log: bool = True, now: datetime | None = None,
                  exclude_booked: bool | None = None) -> Recommendations:
    """Recommendations for a learner, with reasons; logs one exposure event (unless `log` is False).

    The candidates obey the admin's candidate rules (`ranking.candidate_rules`); the learner's past mentors are
    left out unless the rule `exclude_booked_by_learner` is off (or `exclude_booked` says otherwise), and the
    ones they rated well come back as `book_again`. The arm's model is blended with its companions at the
    admin's `ranking.hybrid_blend`, then re-ranked with `rerank_weights`."""
    settings = _settings()
    now = now or clock.now()
    st = state()
    bundle = catalogue(now)
    cat: Catalogue = bundle["catalogue"]
    rules = candidate_rules()
    if exclude_booked is None:
        exclude_booked = rules.exclude_booked_by_learner
    learner = learner_context(learner_id, bundle)
    tz = (filters.tz if filters is not None else None) or "UTC"
    index = candidate_index(bundle, filters, now, rules, learner.booked if exclude_booked else (), tz)
    arm = arm_for(learner_id)
    weights = merge_weights(admin_weights(), arm.rerank_weights if arm else None)
    fallback = None
    companions = None
    try:
        model = st.registry.model(alias=(arm.model_alias if arm else "champion") or "champion",
                                  version=arm.model_version if arm else None)
        content_model = st.registry.content_model()
        companions = st.registry.companions()
    except Exception as error:  # noqa: BLE001 - popularity rather than an error page
        logger.warning("model registry failed: %s", error)
        model, content_model = None, None
    if model is None:
        fallback = st.registry.last_error or "no model registered"
    soon = free_in_window(bundle, soon_window(tz, now), now, wait=False) if len(index) else np.zeros(0, bool)
    ranked: Ranked = recommend(model, learner, cat, index, soon[index] if len(index) else np.zeros(0, bool),
                               weights, k, content_model, False, companions, hybrid_blend())
    exposure_id = None
    version = ranked.model_version
    if log and ranked.picks:  # queued with its id; a background thread writes it within milliseconds
        payload = dict(source=source, mentor_ids=[p.mentor_id for p in ranked.picks],
                       scores=[p.score for p in ranked.picks], reasons=[p.reason_kind for p in ranked.picks],
                       ranking=ranked.source, experiment_id=arm.experiment_id if arm else None,
                       filters=filters.log_payload() if filters is not None else {}, k=k, fallback=fallback)
        exposure_id = exposures.writer_for(db.engine).submit(exposures.exposure_row(
            user_id=learner_id, model_version=version, arm=arm.label if arm else None, occurred_at=utcnow(),
            payload=payload))
    _maybe_check_experiments(settings)
    return Recommendations(learner_id=learner_id, picks=ranked.picks, source=ranked.source, model_version=version,
                           arm=arm.label if arm else None, exposure_id=exposure_id, fallback=fallback,
                           book_again=book_again(learner, cat, k))


def _maybe_check_experiments(settings) -> None:
    """Every serving_ab_check_seconds: guardrails and auto-promotion, in a background thread."""
    if settings.serving_ab_check_seconds <= 0:
        return
    st = state()
    if time.monotonic() - st.last_ab_check < settings.serving_ab_check_seconds:
        return
    st.last_ab_check = time.monotonic()
    app = current_app._get_current_object()

    def run():
        try:
            with app.app_context():
                actions = ab.check_experiments(db.session, state(app).registry)
                db.session.commit()
                if actions:
                    logger.info("A/B check: %s", actions)
                    state(app).experiment = None
                db.session.remove()
        except Exception:  # noqa: BLE001
            logger.exception("A/B check failed")

    threading.Thread(target=run, daemon=True).start()


# ---------------------------------------------------------------- search blend


def personal_scores(learner_id: int, mentor_ids) -> dict[int, float] | None:
    """The search hook: the champion's percentile score (0..1) of these mentors for this learner, or None."""
    try:
        model = state().registry.model(alias="champion")
        if model is None or not model.knows(learner_id):
            return None
        ids = np.asarray(list(mentor_ids), dtype=np.int64)
        raw = model.scores(learner_id, ids)
        from serving.recommend import _percentile

        pct = _percentile(raw)
        return {int(m): float(s) for m, s in zip(ids.tolist(), pct.tolist())}
    except Exception:  # noqa: BLE001 - search must never fail because of the model
        logger.exception("personal scores failed")
        return None


def default_window(tz: str, today: date, days: int = 7) -> AvailabilityWindow:
    return AvailabilityWindow(start_date=today, end_date=today + timedelta(days=days - 1), day_start=dtime(0),
                              day_end=END_OF_DAY, tz=tz)
