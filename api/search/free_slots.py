"""The free-slot index: every mentor's bookable slots, precomputed, so a search filters by availability in SQL.

`mentor_free_slots` (migration 0011) holds one row per slot `api.bookings.slots.free_slots` offers, apart
from `now`: the same windows, step alignment, buffer around active bookings; the policy's notice and horizon
become two columns, `closes_at` (start - notice) and `opens_at` (start - horizon), so the search asks for
`opens_at <= now <= closes_at` and the rows themselves never depend on the clock.

How far the rows run: a mentor's rows cover slot starts up to `anchor + horizon + MARGIN`, where the anchor
(`search_ranking_params['free_slots:anchor']`) is the last roll. A search at `now` needs starts up to
`now + horizon`, which holds while `now <= anchor + MARGIN`; `ensure_fresh()` (called by each search, real
work at most every CHECK_SECONDS per process) rolls the anchor forward after ROLL_AFTER, appending the new
days, and builds everything the first time (or after the booking defaults changed). `mentorhub
refresh-ranking` does the same from a scheduler (`--force` rebuilds).

Writes through the ORM are seen; a bulk Core write to those tables must call `rewrite()` (or `build()`) itself.

Kept current in the writer's own transaction: a session hook (`install_hooks`, which create_app wires)
collects the mentors whose bookings, weekly rules, exceptions, booking policy, session length or time zone an
ORM flush changed, and recomputes their rows before the commit (all of them, or for a booking only the days
around its old and new times). Every rewrite locks the mentor's profile row first on PostgreSQL, so two
writers of one mentor take turns and the second reads the first one's bookings.
"""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Callable

import sqlalchemy as sa

from models import clock
from api import hooks
from api.bookings.slots import BookingPolicy, candidate_slots, windows
from api.extensions import db
from api.search import availability
from api.search.upkeep import at_most_every, params_table
from api.settings import current_settings
from api.tables import (
    AvailabilityException,
    AvailabilityRule,
    Booking,
    MentorBookingPolicy,
    MentorFreeSlot,
    MentorProfile,
)

UTC = timezone.utc

MARGIN = timedelta(days=2)  # rows run this far beyond each mentor's horizon from the anchor
ROLL_AFTER = timedelta(hours=6)  # the anchor moves forward when it is this old (well inside MARGIN)
LOOKBACK = timedelta(hours=1)  # rewrites start this long before now (the past is never offered anyway)
BOOKING_REACH = timedelta(days=1)  # a booking change rewrites the slots starting this close to it
CHECK_SECONDS = 60
CHUNK = 500  # mentors per round of bulk loads
ADVISORY_LOCK = (5009, 2)  # PostgreSQL: one build or roll at a time (the ranking columns use (5009, 1))
ANCHOR = "free_slots:anchor"
FOREVER = datetime(9999, 1, 1, tzinfo=timezone.utc)
DEFAULT_NAMES = ("buffer_minutes", "min_notice_minutes", "horizon_days", "slot_step_minutes")
_PENDING = "mentorhub.search.free_slots"
HOOK = "search.free_slots"
_local = threading.Lock()

Span = Callable[[int, BookingPolicy], tuple[datetime, datetime]]  # (mentor, policy) -> [lower, upper) of starts


# ---------------------------------------------------------------- computing and writing rows


def slot_rows(mentor_id: int, entry: availability._Mentor, lower: datetime, upper: datetime) -> list[dict]:
    """The free slots of one loaded mentor starting in [lower, upper), as rows."""
    policy = entry.policy
    if lower >= upper or not entry.rules and not entry.exceptions:
        return []
    spans = windows(entry.rules, entry.exceptions, entry.zone, *availability._local_days(lower, upper, entry))
    busy = entry.busy
    horizon, notice = policy.horizon_days * 86400, policy.min_notice_minutes * 60
    rows = []
    for slot in candidate_slots(spans, policy):
        if lower <= slot.start < upper and not any(slot.overlaps(b, policy.buffer) for b in busy):
            start = seconds(slot.start)
            rows.append({"mentor_id": mentor_id, "starts_at": start, "ends_at": seconds(slot.end),
                         "opens_at": start - horizon, "closes_at": start - notice})
    return rows


def seconds(instant: datetime) -> int:
    """An aware instant as the table stores it: Unix seconds."""
    return int(instant.timestamp())


def _lock_mentors(mentor_ids: list[int]) -> None:
    """PostgreSQL: row-lock the mentors' profiles (in id order), so rewrites of one mentor never interleave."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.select(MentorProfile.user_id).where(MentorProfile.user_id.in_(mentor_ids))
                           .order_by(MentorProfile.user_id).with_for_update())


SLOTS = MentorFreeSlot.__table__  # written through Core: no ORM objects, no flush events
_DELETE = SLOTS.delete().where(SLOTS.c.mentor_id == sa.bindparam("m"), SLOTS.c.starts_at >= sa.bindparam("lo"),
                               SLOTS.c.starts_at < sa.bindparam("hi"))


def rewrite(mentor_ids, span: Span, whole: frozenset[int] = frozenset()) -> int:
    """Recompute the rows of these mentors whose start lies in span(mentor, policy); returns the rows written.

    For the mentors in `whole` every row after the span's start goes (a shorter horizon ends their rows sooner).
    """
    written = 0
    connection = availability._connection()
    ordered = sorted(set(mentor_ids))
    for i in range(0, len(ordered), CHUNK):
        chunk = ordered[i:i + CHUNK]
        _lock_mentors(chunk)
        mentors = {mentor_id: (minutes, zone_name) for mentor_id, minutes, zone_name in connection.execute(
            sa.select(MentorProfile.user_id, MentorProfile.session_minutes, MentorProfile.timezone)
            .where(MentorProfile.user_id.in_(chunk)))}
        removed = [m for m in chunk if m not in mentors]
        if removed:  # profiles deleted in this transaction (SQLite does not cascade)
            connection.execute(SLOTS.delete().where(SLOTS.c.mentor_id.in_(removed)))
        if not mentors:
            continue
        policies = availability._policies(mentors, list(mentors))
        spans = {m: span(m, policies[m]) for m in mentors}
        spans = {m: (lo, hi) for m, (lo, hi) in spans.items() if lo < hi or m in whole}
        if not spans:
            continue
        loaded = availability._load({m: mentors[m] for m in spans}, min(lo for lo, _ in spans.values()),
                                    max(hi for _, hi in spans.values()), list(spans))
        rows = [row for m, (lo, hi) in spans.items() for row in slot_rows(m, loaded[m], lo, hi)]
        connection.execute(_DELETE, [{"m": m, "lo": seconds(lo), "hi": seconds(FOREVER if m in whole else hi)}
                                     for m, (lo, hi) in spans.items()])
        if rows:
            connection.execute(SLOTS.insert(), rows)
        written += len(rows)
    return written


# ---------------------------------------------------------------- the anchor: building and rolling


def _params() -> dict[str, float]:
    return dict(db.session.execute(sa.select(params_table.c.name, params_table.c.value)
                                   .where(params_table.c.name.like("free_slots:%"))).all())


def _set_params(values: dict[str, float]) -> None:
    db.session.execute(params_table.delete().where(params_table.c.name.in_(list(values))))
    db.session.execute(params_table.insert(), [{"name": k, "value": float(v)} for k, v in values.items()])


def anchor() -> datetime | None:
    """The instant the rows were last rolled forward from (None: never built)."""
    value = db.session.scalar(sa.select(params_table.c.value).where(params_table.c.name == ANCHOR))
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _defaults() -> dict[str, float]:
    settings = current_settings()
    return {f"free_slots:{name}": float(getattr(settings, f"booking_{name}")) for name in DEFAULT_NAMES}


def _end(start: datetime, policy: BookingPolicy) -> datetime:
    return start + timedelta(days=policy.horizon_days) + MARGIN


def _all_mentors() -> list[int]:
    """Mentors who can have a slot: a weekly rule or an exception with hours."""
    return list(db.session.scalars(
        sa.select(AvailabilityRule.mentor_id).union(
            sa.select(AvailabilityException.mentor_id).where(AvailabilityException.start_time.is_not(None)))))


def build(now: datetime | None = None) -> int:
    """Recompute every mentor's rows from scratch and anchor them at `now`; the caller commits."""
    now = now or clock.now()
    _set_params({ANCHOR: now.timestamp(), **_defaults()})  # first: takes SQLite's write lock before any read
    db.session.execute(SLOTS.delete())
    return rewrite(_all_mentors(), lambda _m, policy: (now - LOOKBACK, _end(now, policy)))


def roll(now: datetime | None = None) -> int:
    """Move the anchor to `now`: append each mentor's new days, drop slots of the past; the caller commits."""
    now = now or clock.now()
    old = anchor()
    if old is None:
        return build(now)
    _set_params({ANCHOR: now.timestamp()})
    db.session.execute(SLOTS.delete().where(SLOTS.c.starts_at < seconds(now - LOOKBACK)))
    return rewrite(_all_mentors(), lambda _m, policy: (_end(old, policy), _end(now, policy)))


def _try_lock() -> bool:
    if db.session.get_bind().dialect.name != "postgresql":
        return True
    return bool(db.session.scalar(sa.text("SELECT pg_try_advisory_xact_lock(:a, :b)"),
                                  {"a": ADVISORY_LOCK[0], "b": ADVISORY_LOCK[1]}))


def refresh(now: datetime | None = None) -> str:
    """Build, roll or nothing, whichever is due; commits. Returns what it did."""
    now = now or clock.now()
    if not _try_lock():
        db.session.rollback()
        return "busy"
    stored = _params()
    done = "nothing"
    if ANCHOR not in stored or any(stored.get(k) != v for k, v in _defaults().items()):
        build(now)
        done = "built"
    elif now - datetime.fromtimestamp(stored[ANCHOR], UTC) >= ROLL_AFTER:
        roll(now)
        done = "rolled"
    db.session.commit()
    return done


def ensure_fresh(wait: bool = False) -> None:
    """Cheap per search: every CHECK_SECONDS one thread of the process checks whether a build or roll is due.
    Other threads go on meanwhile with the rows there are, or, with `wait`, wait for that check to finish.

    It commits; call it before the request writes anything of its own.
    """
    at_most_every("free_slots", CHECK_SECONDS, _local, refresh, "free-slot index refresh", wait=wait)


# ---------------------------------------------------------------- keeping rows current with every write


def _value(obj, name: str):
    """An attribute as the flush left it, without loading anything (a deleted row cannot be reloaded)."""
    return sa.inspect(obj).dict.get(name)


def _booking_reach(booking: Booking) -> tuple[datetime, datetime] | None:
    """The starts of the slots a change of this booking can free or take (around its old and new times)."""
    state = sa.inspect(booking)
    times = [t for name in ("starts_at", "ends_at") for t in
             (*state.attrs[name].history.added, *state.attrs[name].history.deleted, _value(booking, name)) if t]
    if not times:
        return None
    return min(times) - BOOKING_REACH, max(times) + BOOKING_REACH


def _collect(session, _flush_context) -> None:
    """after_flush: remember which mentors' rows the flushed changes touch ((lower, upper) or None: all)."""
    if not hooks.active(HOOK):
        return
    pending: dict[int, tuple | None] = session.info.setdefault(_PENDING, {})

    def whole(mentor_id):
        if mentor_id is not None:
            pending[mentor_id] = None

    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Booking):
            mentor_id = _value(obj, "mentor_id")
            reach = _booking_reach(obj)
            if mentor_id is None or mentor_id in pending and pending[mentor_id] is None:
                continue
            if reach is None:
                whole(mentor_id)
            else:
                known = pending.get(mentor_id, reach)
                pending[mentor_id] = (min(known[0], reach[0]), max(known[1], reach[1]))
        elif isinstance(obj, (AvailabilityRule, AvailabilityException, MentorBookingPolicy)):
            whole(_value(obj, "mentor_id"))
        elif isinstance(obj, MentorProfile):
            state = sa.inspect(obj)
            if obj not in session.dirty or any(state.attrs[name].history.has_changes()
                                               for name in ("session_minutes", "timezone")):
                whole(_value(obj, "user_id"))


def _apply(session) -> None:
    """before_commit: rewrite the collected mentors' rows inside the committing transaction."""
    if not hooks.active(HOOK):
        return
    if session.info.get(_PENDING) is None and not (session.new or session.dirty or session.deleted):
        return
    session.flush()
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    if db.session.get_bind().dialect.name == "postgresql":
        _lock_mentors(sorted(pending))  # before reading the anchor: a concurrent build or roll commits first
    start = anchor()
    if start is None:  # never built: the first build computes everything
        return
    now = clock.now()

    def span(mentor_id: int, policy: BookingPolicy) -> tuple[datetime, datetime]:
        lower, upper = now - LOOKBACK, _end(start, policy)
        reach = pending[mentor_id]
        return (lower, upper) if reach is None else (max(lower, reach[0]), min(upper, reach[1]))

    rewrite(list(pending), span, whole=frozenset(m for m, reach in pending.items() if reach is None))


def _forget(session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended (committed or rolled back)
        session.info.pop(_PENDING, None)


def install_hooks(app) -> None:
    """Keep the index current in every commit of `app`: the flushed changes name the mentors to rewrite."""
    hooks.install(app, HOOK, {"after_flush": _collect, "before_commit": _apply, "after_transaction_end": _forget})

