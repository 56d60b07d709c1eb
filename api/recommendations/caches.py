"""The recommendation tier's caches and the threads that refresh them: every one is here, with its rules.

Each app has one `ServingState` (`state()`), holding the model registry and these caches (what; how long;
who drops it; who refreshes it):

- `snapshot`: the catalogue snapshot (`snapshot.Snapshot`: mentors, prices, learners); for
  `serving_catalogue_seconds`; `invalidate()`; a background thread started by the first request that finds it
  stale (that request is served the stale one). The first build is made by the request, or the worker's warm-up.
- `Snapshot.cards`: result cards by currency; with their snapshot; a missing card is loaded by the request, and
  the next snapshot is built with the cards of every currency this one served.
- `changed_learners`: learner id -> when a commit changed their bookings, reviews or profile (written by the
  session listener of `engine.install_change_listener`); such a learner is read from the database until a
  snapshot built a minute after the change is in use, then the entry is dropped.
- `windows`: the free mentors of an availability window; for `serving_availability_cache_seconds`, at most
  `MAX_WINDOWS`; `invalidate()`; one background thread per stale window (the stale set is served meanwhile). A
  window never seen is computed by the request that asks for it, or in the background if it does not wait.
- `model_settings`, `weights`: the ModelSetting rows and the re-ranking weights merged from them; for
  `serving_settings_cache_seconds`; `settings_changed()` (an admin saved one: at once in this process),
  `invalidate()`; the next request.
- `experiment`: the running A/B experiment and its arms; for `serving_settings_cache_seconds`; `invalidate()`
  and the A/B check when it acted; the next request.
- `sessions`: the session row of a signed-in user (`principal.SessionPrincipal`); for `SESSION_SECONDS`, at most
  `SESSION_ENTRIES` users; nobody (a log-out or a deactivation reaches the tier within `SESSION_SECONDS`); the
  next request of that user.

Besides the refreshes, one more thread: the A/B check (guardrails and auto-promotion, `serving.ab`), at most every
`serving_ab_check_seconds`, started by a request. Every thread is a daemon started by `_in_background`, in its
own app context; a failure is logged and the previous value stays in use.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time as dtime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa
from flask import Flask, current_app

from api.extensions import db
from api.recommendations.snapshot import Snapshot, all_cards, build_snapshot, free_mentors
from api.search.currency import supported_currencies
from api.search.filters import END_OF_DAY, AvailabilityWindow
from api.search.query import MentorCard, load_cards
from api.settings import current_settings
from api.tables import ModelSetting, Role, User, UserRole
from models import clock
from serving import ab
from serving.recommend import merge_weights
from serving.registry import ModelRegistry

logger = logging.getLogger(__name__)
EXTENSION = "serving"
WEIGHTS_KEY = "rerank_weights"
MAX_WINDOWS = 256  # availability windows kept; beyond, the oldest quarter is dropped
SESSION_SECONDS = 3.0  # a signed-in user's session row is read again after this long
SESSION_ENTRIES = 100_000  # users whose session row is kept; beyond, the oldest quarter is dropped
CHANGE_MARGIN_SECONDS = 60.0  # a change committed this long before a snapshot's build started is in it


@dataclass
class Cached:
    value: object
    expires: float  # time.monotonic()

    @property
    def fresh(self) -> bool:
        return self.expires > time.monotonic()


@dataclass
class Window:
    """The free mentors of one availability window, with their mask over the snapshot it was last asked with."""

    free: set[int]
    masks: dict[float, np.ndarray] = field(default_factory=dict)  # Snapshot.built -> mask over its catalogue
    refreshing: bool = False


@dataclass
class ServingState:
    """Per-app serving state: the registry and the caches of the table above."""

    registry: ModelRegistry
    lock: threading.Lock = field(default_factory=threading.Lock)
    snapshot: Cached | None = None
    snapshot_building: bool = False
    windows: dict[AvailabilityWindow, Cached] = field(default_factory=dict)  # Cached(Window)
    window_locks: dict[AvailabilityWindow, threading.Lock] = field(default_factory=dict)  # held while first computed
    windows_computing: set[AvailabilityWindow] = field(default_factory=set)
    experiment: Cached | None = None
    weights: Cached | None = None
    model_settings: Cached | None = None
    sessions: dict[int, Cached] = field(default_factory=dict)  # user id -> Cached(session rows)
    last_ab_check: float = field(default_factory=time.monotonic)


changed_learners: dict[int, float] = {}  # learner id -> time.time() of the commit that changed them


def state(app: Flask | None = None) -> ServingState:
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


def invalidate(app: Flask | None = None) -> None:
    """Forget the snapshot, availability, experiment and settings (tests: the next request reads them afresh)."""
    st = state(app)
    st.snapshot, st.windows, st.experiment, st.weights, st.model_settings = None, {}, None, None, None


def settings_changed(app: Flask | None = None) -> None:
    """An admin saved a model setting: this process reads them again on its next request (other processes
    within `serving_settings_cache_seconds`)."""
    st = state(app)
    st.weights = st.model_settings = None


def _in_background(name: str, work: Callable[[Flask], None], done: Callable[[], None] = lambda: None) -> None:
    """Run `work(app)` in a daemon thread, in an app context of the current app; `done` runs after it either way."""
    app = current_app._get_current_object()

    def run() -> None:
        try:
            with app.app_context():
                work(app)
                db.session.remove()
        except Exception:  # noqa: BLE001 - the previous value stays in use
            logger.exception("recommendation tier: %s failed", name)
        finally:
            done()

    threading.Thread(target=run, name=f"serving-{name}", daemon=True).start()


def warm_up(app: Flask, timeout: float = 120.0) -> bool:
    """Load the models and build the snapshot now (a server worker's start, before it takes traffic), with "free
    this week" in every learner's time zone and the cards in every learner's currency, so that the first
    requests do not pay for them; tells whether a champion model is in memory."""
    with app.app_context():
        loaded = state(app).registry.wait_until_loaded(timeout)
        snapshot = catalogue()
        now = clock.now()
        learners = db.session.execute(sa.select(User.timezone, User.currency).distinct().join(
            UserRole, UserRole.user_id == User.id).where(UserRole.role == Role.LEARNER)).all()
        for tz in {"UTC", *(z for z, _c in learners if z)}:
            free_in_window(snapshot, soon_window(tz, now), now)
        snapshot.cards.update(all_cards(snapshot.catalogue, [
            "USD", *sorted({c for _z, c in learners if c in supported_currencies()})]))
        db.session.remove()
    return loaded


# ---------------------------------------------------------------- the snapshot


def catalogue(now: datetime | None = None) -> Snapshot:
    """The current snapshot; a stale one is rebuilt in the background (the first build is synchronous)."""
    st = state()
    cached = st.snapshot
    if cached is not None and cached.fresh:
        return cached.value
    if cached is None:
        with st.lock:
            if st.snapshot is None:
                _keep_snapshot(st, build_snapshot(now))
        return st.snapshot.value
    if not st.snapshot_building:
        st.snapshot_building = True
        _in_background("catalogue", lambda app: _keep_snapshot(state(app), build_snapshot(
            card_currencies=list(cached.value.cards))), done=lambda: setattr(st, "snapshot_building", False))
    return cached.value


def _keep_snapshot(st: ServingState, snapshot: Snapshot) -> None:
    st.snapshot = Cached(snapshot, time.monotonic() + current_settings().serving_catalogue_seconds)
    started = snapshot.learners.started
    for learner_id, when in list(changed_learners.items()):
        if when < started - CHANGE_MARGIN_SECONDS:
            changed_learners.pop(learner_id, None)


def cards(mentor_ids: list[int], currency: str) -> dict[int, MentorCard]:
    """Result cards of these mentors in this currency, cached with the snapshot; misses are loaded."""
    cache = catalogue().cards.setdefault(currency, {})
    out, missing = {}, []
    for mentor_id in mentor_ids:
        card = cache.get(mentor_id)
        if card is None:
            missing.append(mentor_id)
        else:
            out[mentor_id] = card
    if missing:
        for card in load_cards(missing, currency, clock.now()):
            cache[card.id] = out[card.id] = card
    return out


# ---------------------------------------------------------------- availability windows


def soon_window(tz: str, now: datetime) -> AvailabilityWindow:
    """'This week': today and the next six days, all day, in the learner's zone."""
    return default_window(tz, now.astimezone(zone(tz)).date())


def default_window(tz: str, today: date, days: int = 7) -> AvailabilityWindow:
    """All day from `today`, for `days` days, in this zone."""
    return AvailabilityWindow(start_date=today, end_date=today + timedelta(days=days - 1), day_start=dtime(0),
                              day_end=END_OF_DAY, tz=tz)


def zone(tz: str) -> ZoneInfo:
    """The time zone of this name, UTC for a name it does not know."""
    try:
        return ZoneInfo(tz)
    except Exception:  # noqa: BLE001 - any unusable name
        return ZoneInfo("UTC")


def free_in_window(snapshot: Snapshot, window: AvailabilityWindow, now: datetime, wait: bool = True) -> np.ndarray:
    """Boolean mask over the catalogue: a free slot inside the window.

    A window never seen is computed once: with `wait` (a filter the learner asked for) the request waits for
    that one computation, however many requests ask at the same time; without (the "free this week" ranking
    signal) the request goes on with no one marked free and the set is computed in the background.
    """
    st = state()
    hit = st.windows.get(window)
    if hit is None:
        if not wait:
            _refresh_window(st, window)
            return np.zeros(len(snapshot.catalogue), dtype=bool)
        hit = _first_computation(st, snapshot, window, now)
    elif not hit.fresh and not hit.value.refreshing:
        hit.value.refreshing = True
        _refresh_window(st, window, hit)
    return _mask(hit.value, snapshot)


def _first_computation(st: ServingState, snapshot: Snapshot, window: AvailabilityWindow, now: datetime) -> Cached:
    with st.window_locks.setdefault(window, threading.Lock()):
        hit = st.windows.get(window)
        if hit is None:
            hit = _store_window(st, window, free_mentors(snapshot, window, now))
    st.window_locks.pop(window, None)
    return hit


def _mask(value: Window, snapshot: Snapshot) -> np.ndarray:
    """The window's mask over this snapshot's catalogue, made once per snapshot (never changed in place)."""
    mask = value.masks.get(snapshot.built)
    if mask is None:
        free = value.free
        mask = np.isin(snapshot.catalogue.mentor_ids, np.fromiter(free, dtype=np.int64, count=len(free)))
        value.masks = {snapshot.built: mask}
    return mask


def _store_window(st: ServingState, window: AvailabilityWindow, free: set[int]) -> Cached:
    hit = st.windows[window] = Cached(Window(free), time.monotonic() +
                                      current_settings().serving_availability_cache_seconds)
    if len(st.windows) > MAX_WINDOWS:
        for key in list(st.windows)[:MAX_WINDOWS // 4]:
            st.windows.pop(key, None)
    return hit


def _refresh_window(st: ServingState, window: AvailabilityWindow, stale: Cached | None = None) -> None:
    """One background computation per window at a time (`stale` is the entry it replaces, if any)."""
    with st.lock:
        if window in st.windows_computing:
            return
        st.windows_computing.add(window)

    def work(app: Flask) -> None:
        try:
            _store_window(st, window, free_mentors(catalogue(), window, clock.now()))
        except Exception:
            if stale is not None:  # served again, and refreshed by a later request
                stale.value.refreshing = False
            raise

    _in_background("free slots", work, done=lambda: st.windows_computing.discard(window))


# ---------------------------------------------------------------- admin settings and the experiment


def model_settings() -> dict[str, dict]:
    """Every stored ModelSetting (key -> value)."""
    st = state()
    if st.model_settings is None or not st.model_settings.fresh:
        value = {key: v for key, v in db.session.execute(sa.select(ModelSetting.key, ModelSetting.value))
                 if isinstance(v, dict)}
        st.model_settings = Cached(value, time.monotonic() + current_settings().serving_settings_cache_seconds)
    return st.model_settings.value


def admin_weights() -> dict:
    """ModelSetting 'rerank_weights' over the defaults."""
    st = state()
    if st.weights is None or not st.weights.fresh:
        st.weights = Cached(merge_weights(model_settings().get(WEIGHTS_KEY)),
                            time.monotonic() + current_settings().serving_settings_cache_seconds)
    return st.weights.value


def running_experiment() -> dict | None:
    """The running experiment with its arms."""
    st = state()
    if st.experiment is None or not st.experiment.fresh:
        st.experiment = Cached(ab.running_experiment(db.session),
                               time.monotonic() + current_settings().serving_settings_cache_seconds)
    return st.experiment.value


def maybe_check_experiments() -> None:
    """Every `serving_ab_check_seconds`: guardrails and auto-promotion, in a background thread."""
    seconds = current_settings().serving_ab_check_seconds
    st = state()
    if seconds <= 0 or time.monotonic() - st.last_ab_check < seconds:
        return
    st.last_ab_check = time.monotonic()

    def work(app: Flask) -> None:
        actions = ab.check_experiments(db.session, state(app).registry)
        db.session.commit()
        if actions:
            logger.info("A/B check: %s", actions)
            state(app).experiment = None

    _in_background("A/B check", work)


# ---------------------------------------------------------------- session rows


def session_rows(user_id: int, load: Callable[[int], list[tuple]]) -> list[tuple]:
    """The user's session rows (`principal.load_principal`): `load(user_id)`, kept for `SESSION_SECONDS`."""
    sessions = state().sessions
    hit = sessions.get(user_id)
    if hit is not None and hit.fresh:
        return hit.value
    rows = load(user_id)
    if len(sessions) >= SESSION_ENTRIES:
        for key in list(sessions)[:SESSION_ENTRIES // 4]:
            sessions.pop(key, None)
    sessions[user_id] = Cached(rows, time.monotonic() + SESSION_SECONDS)
    return rows
