"""Retention cohorts: users grouped by sign-up week or month, and how many come back in each later one."""
from __future__ import annotations

import pandas as pd


def _period_index(times: pd.Series, period: str) -> pd.Series:
    """Whole weeks (Monday-based) or months since the epoch, for offsets between periods."""
    stamps = pd.to_datetime(times, utc=True).dt.tz_localize(None)
    if period == "week":
        return ((stamps.dt.normalize() - pd.to_timedelta(stamps.dt.weekday, unit="D")
                 - pd.Timestamp("1970-01-05")).dt.days // 7).astype("int64")
    if period == "month":
        return (stamps.dt.year * 12 + stamps.dt.month - 1).astype("int64")
    raise ValueError("period must be week or month")


def _label(index: int, period: str) -> str:
    if period == "week":
        return (pd.Timestamp("1970-01-05") + pd.Timedelta(days=7 * index)).strftime("%Y-%m-%d")
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def retention_cohorts(users: pd.DataFrame, activity: pd.DataFrame, period: str = "week",
                      offsets: int = 8, until=None) -> list[dict]:
    """One row per sign-up cohort: its size and, for offsets 0..offsets-1, how many of its users were active.

    `users` has `user_id` and `signed_up_at`; `activity` has `user_id` and `at` (any event of the user).
    Offset 0 is the sign-up period itself; a user counts once per period however active they were.
    With `until` (a time), periods that have not started by then are None (not yet observable), not 0.
    """
    if users.empty:
        return []
    cohort = users.assign(cohort=_period_index(users["signed_up_at"], period))[["user_id", "cohort"]]
    active = activity.dropna(subset=["user_id"]) if len(activity) else activity
    if len(active):
        active = active.assign(user_id=active["user_id"].astype("int64"), p=_period_index(active["at"], period))
        joined = active[["user_id", "p"]].drop_duplicates().merge(cohort, on="user_id")
        joined = joined.assign(offset=joined["p"] - joined["cohort"])
        joined = joined[(joined["offset"] >= 0) & (joined["offset"] < offsets)]
        counts = joined.groupby(["cohort", "offset"])["user_id"].nunique()
    else:
        counts = pd.Series(dtype="int64")
    sizes = cohort.groupby("cohort")["user_id"].nunique()
    last = int(_period_index(pd.Series([pd.Timestamp(until)]), period).iloc[0]) if until is not None else None
    rows = []
    for c, size in sizes.sort_index().items():
        active_counts = [None if last is not None and c + k > last else int(counts.get((c, k), 0))
                         for k in range(offsets)]
        rows.append({"cohort": _label(int(c), period), "size": int(size), "active": active_counts,
                     "rates": [None if n is None else n / size for n in active_counts]})
    return rows
