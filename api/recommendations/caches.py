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
- `PrincipalDirectory` (PostgreSQL only, one per database engine and process, `directory_for`): every account's
  session facts (session version, active flag, roles, currency, time zone), read by `principal.load_principal`
  on every request of the tier; kept until the process ends; changed rows are re-read by its own listener thread,
  told by the triggers of migration 0013 (LISTEN/NOTIFY) within milliseconds of the commit. While it loads,
  while its connection is down, or for an account it does not hold, it does not answer and the tier queries.
  Memory: 18 bytes per user id (a million accounts: 18 MB per worker).

Besides the refreshes, one more thread: the A/B check (guardrails and auto-promotion, `serving.ab`), at most every
`serving_ab_check_seconds`, started by a request. Every thread but the directory's listener is a daemon started by
`_in_background`, in its own app context; a failure is logged and the previous value stays in use. The directory's
listener is a daemon started with the directory (the tier's `serve` starts it before the warm-up).
"""
from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import time
import weakref
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


# ---------------------------------------------------------------- session facts (PostgreSQL)

CHANNEL = "mentorhub_principals"
APPLICATION_NAME = "mentorhub principal directory"  # its connection in pg_stat_activity
LOAD_CHUNK = 50_000  # user ids per query of a full load
IDLE_CHECK_SECONDS = 5.0  # with no notification for this long, a round trip checks the connection
RETRY_SECONDS = 2.0  # between reconnection attempts
# a database host that vanished (no reset, no answer) is noticed within about 10 s, not TCP's quarter hour
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 4, "keepalives_interval": 2, "keepalives_count": 3}
ROLES = [role.value for role in Role]  # bit i of an account's role mask is ROLES[i]
# a mask's roles as the principal query's role column gives them: one row per role, or one row with no role
ROLE_COLUMN = [[role for bit, role in enumerate(ROLES) if mask >> bit & 1] or [None] for mask in range(1 << len(ROLES))]
RECORD = np.dtype([("version", "i8"), ("active", "?"), ("roles", "u1"), ("currency", "i4"), ("timezone", "i4")])

_users, _roles = User.__table__, UserRole.__table__
_FACTS = (sa.select(_users.c.id, _users.c.session_version, _users.c.is_active_account, _users.c.currency,
                    _users.c.timezone, _roles.c.role).outerjoin(_roles, _roles.c.user_id == _users.c.id))


class PrincipalDirectory:
    """One per database engine and process (`directory_for`): records indexed by user id, a listener thread."""

    def __init__(self, engine: sa.engine.Engine) -> None:
        self.engine = sa.create_engine(engine.url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool,
                                       connect_args={"application_name": APPLICATION_NAME, **KEEPALIVES})
        self.ready = False  # loaded, and listening since before the load
        self._records: np.ndarray = np.zeros(0, RECORD)  # version -1: no such account
        self._texts: list[str | None] = []  # currencies and time zones, by the number a record holds
        self._text_numbers: dict[str | None, int] = {}
        self._wake_read, self._wake_write = os.pipe()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="principal-directory", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ the request side

    def rows(self, user_id: int) -> list[tuple] | None:
        """The account's (session_version, is_active_account, currency, timezone, role) rows, as the principal
        query returns them; None when the directory cannot answer (then ask the database)."""
        records = self._records
        if not self.ready or not 0 <= user_id < len(records):
            return None
        version, active, roles, currency, timezone = records[user_id].tolist()
        if version < 0:
            return None
        texts = self._texts
        return [(version, active, texts[currency], texts[timezone], role) for role in ROLE_COLUMN[roles]]

    def close(self, timeout: float = 5.0) -> None:
        """Stop the listener thread and close its connection."""
        self._stopping.set()
        os.write(self._wake_write, b"x")
        self._thread.join(timeout)
        for fd in (self._wake_read, self._wake_write):
            with contextlib.suppress(OSError):
                os.close(fd)

    # ------------------------------------------------------------ the listener thread

    def _run(self) -> None:
        while not self._stopping.is_set():
            connection = None
            try:
                connection = self._connect()
                self._load(connection)
                self.ready = True
                self._listen(connection)
            except Exception as error:  # noqa: BLE001 - the database went away: the tier queries until we are back
                if not self._stopping.is_set():
                    logger.warning("principal directory: %s; the tier queries the database until it is back", error)
            finally:
                self.ready = False
                if connection is not None:
                    with contextlib.suppress(Exception):
                        connection.close()
            self._stopping.wait(RETRY_SECONDS)

    def _connect(self) -> sa.engine.Connection:
        connection = self.engine.connect()
        connection.exec_driver_sql(f"LISTEN {CHANNEL}")  # before the load: nothing committed after it is missed
        return connection

    def _listen(self, connection: sa.engine.Connection) -> None:
        driver = connection.connection.dbapi_connection  # psycopg2's: its socket and its notifications
        while not self._stopping.is_set():
            readable = select.select([driver, self._wake_read], [], [], IDLE_CHECK_SECONDS)[0]
            if self._stopping.is_set():
                return
            if readable:
                driver.poll()
            else:
                connection.exec_driver_sql("SELECT 1")  # a dead connection raises here (notifications are read)
            changed, everything = set(), False
            while driver.notifies:
                payload = driver.notifies.pop(0).payload
                if payload == "*":
                    everything = True
                elif payload.isdigit():
                    changed.add(int(payload))
            if everything or len(changed) > LOAD_CHUNK // 10:  # (a bulk change: cheaper to read everything)
                self._load(connection)
            elif changed:
                self._load(connection, sorted(changed))

    def _load(self, connection: sa.engine.Connection, user_ids: list[int] | None = None) -> None:
        """Every account (into a new array, swapped in), or these accounts (in place; gone ones marked so)."""
        if user_ids is None:
            top = connection.execute(sa.select(sa.func.coalesce(sa.func.max(_users.c.id), 0))).scalar_one()
            records = _empty(top)
            for low in range(0, top + 1, LOAD_CHUNK):
                self._fill(records, connection.execute(  # (a newer account is in a notification)
                    _FACTS.where(_users.c.id >= low, _users.c.id < low + LOAD_CHUNK, _users.c.id <= top)).all())
            self._records = records
            return
        rows = connection.execute(_FACTS.where(_users.c.id.in_(user_ids))).all()
        records = self._records
        if user_ids[-1] >= len(records):
            records = _empty(user_ids[-1])
            records[:len(self._records)] = self._records
            self._records = records
        records["version"][user_ids] = -1  # gone, unless read again (a request meanwhile asks the database)
        self._fill(records, rows)

    def _fill(self, records: np.ndarray, rows: list[tuple]) -> None:
        """Write these accounts' records (an account with n roles is n rows), each in one go."""
        facts: dict[int, tuple] = {}
        roles: dict[int, int] = {}
        for user_id, version, active, currency, timezone, role in rows:
            facts[user_id] = (version, active, currency, timezone)
            if role is not None:
                roles[user_id] = roles.get(user_id, 0) | 1 << ROLES.index(getattr(role, "value", role))
        for user_id, (version, active, currency, timezone) in facts.items():
            record = records[user_id]
            record["roles"] = roles.get(user_id, 0)
            record["active"] = bool(active)
            record["currency"] = self._number(currency)
            record["timezone"] = self._number(timezone)
            record["version"] = version  # last: a concurrent reader sees the account once it is complete

    def _number(self, text: str | None) -> int:
        number = self._text_numbers.get(text)
        if number is None:
            self._texts.append(text)
            number = self._text_numbers[text] = len(self._texts) - 1
        return number


def _empty(top_user_id: int) -> np.ndarray:
    """Records for user ids up to `top_user_id`, with room to grow; every one 'no such account'."""
    records = np.zeros(top_user_id + 1 + top_user_id // 4 + 1024, RECORD)
    records["version"] = -1
    return records


_directories: weakref.WeakKeyDictionary[sa.engine.Engine, PrincipalDirectory] = weakref.WeakKeyDictionary()
_directories_lock = threading.Lock()


def directory_for(engine: sa.engine.Engine) -> PrincipalDirectory | None:
    """The engine's directory, started on first use; None on a database without notifications (SQLite)."""
    found = _directories.get(engine)
    if found is None and engine.dialect.name == "postgresql":
        with _directories_lock:
            found = _directories.get(engine)
            if found is None:
                found = _directories[engine] = PrincipalDirectory(engine)
    return found


def close_directory(engine: sa.engine.Engine) -> None:
    """Stop the engine's directory, if it has one."""
    found = _directories.pop(engine, None)
    if found is not None:
        found.close()
