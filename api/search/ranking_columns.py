"""The denormalised ranking columns of mentor_profiles: their parameters and their periodic reconciliation.

Migration 0009_search_perf adds `bayes_score`, `price_usd_minor` and `completed_90d` to mentor_profiles
and triggers that keep them current on every write (ratings, prices, booking completions). What the
triggers cannot see is reconciled here by `refresh()`:

- the prior mean m of the Bayesian average is the platform's mean rating, which moves with every rating;
  when it (or the weight setting) drifts past PRIOR_TOLERANCE, every bayes_score is recomputed;
- the popularity window slides: sessions that left the last `search_popularity_days` days are dropped
  from `completed_90d` (at most REFRESH_SECONDS late);
- the demo currency rates or the popularity days may change in code or settings.

The search calls `ensure_fresh()` on each request; it does real work at most every CHECK_SECONDS per
process. `refresh_ranking_command` is the same as a CLI command for a scheduler.
"""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import click
import sqlalchemy as sa
from flask import Flask

from models import clock
from api.extensions import db
from api.search import free_slots
from api.search.currency import factor, rate_codes
from api.search.upkeep import at_most_every, params_table
from api.settings import current_settings
from api.tables import Booking, BookingStatus, MentorProfile, MentorStatus

UTC = timezone.utc

PRIOR_TOLERANCE = 5e-5  # a smaller drift of the platform mean moves no displayed score (4 decimals)
CHECK_SECONDS = 60  # how often a process compares the stored parameters with the live ones
REFRESH_SECONDS = 15 * 60  # the popularity window is re-counted at least this often
ADVISORY_LOCK = (5009, 1)  # PostgreSQL: one refresh at a time across processes

_local = threading.Lock()


def stored_params() -> dict[str, float]:
    return {name: value for name, value in db.session.execute(sa.select(params_table.c.name, params_table.c.value))}


def live_prior_mean() -> float:
    """The platform's mean rating over approved mentors (the setting while nobody is rated)."""
    total, count = db.session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(MentorProfile.rating_sum), 0),
                  sa.func.coalesce(sa.func.sum(MentorProfile.rating_count), 0))
        .where(MentorProfile.status == MentorStatus.APPROVED)).one()
    return (float(total) / float(count)) if count else float(current_settings().search_bayes_prior_mean)


def wanted_static_params() -> dict[str, float]:
    """Parameters that come from settings and code (not from data)."""
    settings = current_settings()
    wanted = {"prior_weight": float(settings.search_bayes_prior_weight),
              "popularity_days": float(settings.search_popularity_days)}
    wanted.update({f"usd_minor:{code}": factor(code, "USD") for code in rate_codes()})
    return wanted


def _write_params(values: dict[str, float]) -> None:
    if not values:
        return
    db.session.execute(params_table.delete().where(params_table.c.name.in_(list(values))))
    db.session.execute(params_table.insert(), [{"name": k, "value": float(v)} for k, v in values.items()])


def _try_lock() -> bool:
    if db.session.get_bind().dialect.name != "postgresql":
        return True
    return bool(db.session.scalar(sa.text("SELECT pg_try_advisory_xact_lock(:a, :b)"),
                                  {"a": ADVISORY_LOCK[0], "b": ADVISORY_LOCK[1]}))


def refresh(now: datetime | None = None, force: bool = False) -> dict:
    """Reconcile parameters, bayes_score, price_usd_minor and completed_90d with the data; commits.

    Idempotent and safe beside concurrent writers: the triggers keep doing their part, and the window
    re-count only overwrites a mentor's count if it did not change meanwhile.
    """
    now = now or clock.now()
    done = {"prior": False, "prices": False, "window": 0}
    if not _try_lock():
        db.session.rollback()
        return done
    stored = stored_params()
    wanted = wanted_static_params()
    mean = live_prior_mean()
    changed_static = {k: v for k, v in wanted.items() if stored.get(k) is None or abs(stored[k] - v) > 1e-12}
    prior_moved = stored.get("prior_mean") is None or abs(stored["prior_mean"] - mean) > PRIOR_TOLERANCE
    _write_params(changed_static | ({"prior_mean": mean} if prior_moved else {}))
    if force or prior_moved or "prior_weight" in changed_static:
        weight = wanted["prior_weight"]
        db.session.execute(sa.update(MentorProfile).values(
            bayes_score=(sa.literal(weight * (mean if prior_moved else stored["prior_mean"]), sa.Float)
                         + MentorProfile.rating_sum) / (sa.literal(weight, sa.Float) + MentorProfile.rating_count)))
        done["prior"] = True
    if force or any(k.startswith("usd_minor:") for k in changed_static):
        rate = sa.case({code: factor(code, "USD") for code in rate_codes()}, value=MentorProfile.currency,
                       else_=sa.literal(1.0, sa.Float))
        db.session.execute(sa.update(MentorProfile).values(price_usd_minor=MentorProfile.price_minor * rate))
        done["prices"] = True
    last = stored.get("window_refreshed_at", 0.0)
    if force or "popularity_days" in changed_static or now.timestamp() - last >= REFRESH_SECONDS:
        done["window"] = _recount_window(now, int(wanted["popularity_days"]))
        _write_params({"window_refreshed_at": now.timestamp()})
    db.session.commit()
    return done


def _recount_window(now: datetime, days: int) -> int:
    """Set completed_90d to the exact count where it differs (compare-and-set: a concurrent change wins)."""
    since = now - timedelta(days=days)
    exact = dict(db.session.execute(
        sa.select(Booking.mentor_id, sa.func.count())
        .where(Booking.status == BookingStatus.COMPLETED, Booking.ends_at >= since, Booking.ends_at <= now)
        .group_by(Booking.mentor_id)).all())
    current = db.session.execute(sa.select(MentorProfile.user_id, MentorProfile.completed_90d)).all()
    fixes = [{"mid": mentor_id, "old": count, "new": exact.get(mentor_id, 0)}
             for mentor_id, count in current if count != exact.get(mentor_id, 0)]
    if fixes:
        table = MentorProfile.__table__
        db.session.execute(
            sa.update(table).where(table.c.user_id == sa.bindparam("mid"), table.c.completed_90d == sa.bindparam("old"))
            .values(completed_90d=sa.bindparam("new")), fixes)
    return len(fixes)


def ensure_fresh() -> None:
    """Cheap per request: every CHECK_SECONDS one process compares stored and live parameters and refreshes.

    The refresh commits; call it before the request writes anything of its own.
    """
    at_most_every("ranking", CHECK_SECONDS, _local, refresh, "search ranking refresh")


@click.command("refresh-ranking")
@click.option("--force", is_flag=True, help="Recompute every ranking column, not only what drifted.")
@click.pass_obj
def refresh_ranking_command(app: Flask, force: bool) -> None:
    """Reconcile the search ranking columns (prior mean, currency rates, the 90-day popularity window) and roll
    the free-slot index forward, in `app` (the CLI builds it)."""
    with app.app_context():
        done = refresh(force=force)
        if force:
            free_slots.build()
            db.session.commit()
        slots = "rebuilt" if force else free_slots.refresh()
    click.echo(f"search ranking refreshed: {done}; free-slot index: {slots}")
