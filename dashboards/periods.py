"""Time buckets shared by the reports: day, week (starting Monday) and month, in UTC."""
from __future__ import annotations

import pandas as pd

PERIODS = ("day", "week", "month")


def bucket(times: pd.Series, period: str) -> pd.Series:
    """The first day (a `YYYY-MM-DD` string) of each timestamp's day, ISO week or month, in UTC."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {PERIODS}, not {period!r}")
    stamps = pd.to_datetime(times, utc=True).dt.tz_convert("UTC").dt.tz_localize(None)
    if period == "day":
        start = stamps.dt.normalize()
    elif period == "week":
        start = stamps.dt.normalize() - pd.to_timedelta(stamps.dt.weekday, unit="D")
    else:
        start = stamps.dt.to_period("M").dt.start_time
    return start.dt.strftime("%Y-%m-%d")
