"""Mentor performance: rating over time, completion, cancellation and no-show rates, response time, earnings."""
from __future__ import annotations

import pandas as pd

from dashboards.periods import bucket

OPEN_STATUSES = {"requested", "accepted"}
CANCELLED = {"cancelled_by_learner", "cancelled_by_mentor"}


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def booking_rates(bookings: pd.DataFrame) -> pd.DataFrame:
    """Per mentor, over finished bookings (not still requested or accepted): completion, cancellation, no-show...

    `bookings` has mentor_id, status, created_at and responded_at (the mentor's accept or reject, or NaT).
    Response time is the median hours from the request to the mentor's answer.
    """
    columns = ["mentor_id", "requests", "finished", "completed", "cancelled", "cancelled_by_mentor", "no_show",
               "rejected", "expired", "completion_rate", "cancellation_rate", "no_show_rate", "response_hours"]
    if bookings.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for mentor_id, group in bookings.groupby("mentor_id"):
        status = group["status"]
        finished = int((~status.isin(OPEN_STATUSES)).sum())
        completed = int((status == "completed").sum())
        cancelled = int(status.isin(CANCELLED).sum())
        no_show = int((status == "no_show").sum())
        answered = group.dropna(subset=["responded_at"])
        hours = ((pd.to_datetime(answered["responded_at"], utc=True) - pd.to_datetime(answered["created_at"], utc=True))
                 .dt.total_seconds() / 3600)
        rows.append({
            "mentor_id": int(mentor_id), "requests": int(len(group)), "finished": finished, "completed": completed,
            "cancelled": cancelled, "cancelled_by_mentor": int((status == "cancelled_by_mentor").sum()),
            "no_show": no_show, "rejected": int((status == "rejected").sum()),
            "expired": int((status == "expired").sum()),
            "completion_rate": _rate(completed, finished), "cancellation_rate": _rate(cancelled, finished),
            "no_show_rate": _rate(no_show, finished),
            "response_hours": float(hours.median()) if len(hours) else None,
        })
    return pd.DataFrame(rows, columns=columns)


def rating_over_time(reviews: pd.DataFrame, period: str = "month") -> pd.DataFrame:
    """Per period: the number of visible reviews, their mean rating and the running (cumulative) mean."""
    if reviews.empty:
        return pd.DataFrame(columns=["period", "reviews", "mean_rating", "cumulative_mean"])
    frame = reviews.assign(period=bucket(reviews["created_at"], period))
    table = frame.groupby("period")["rating"].agg(["count", "sum"]).sort_index()
    out = pd.DataFrame({
        "period": table.index, "reviews": table["count"].astype("int64").to_numpy(),
        "mean_rating": (table["sum"] / table["count"]).to_numpy(),
        "cumulative_mean": (table["sum"].cumsum() / table["count"].cumsum()).to_numpy(),
    })
    return out.reset_index(drop=True)


def earnings(payments: pd.DataFrame) -> pd.DataFrame:
    """Per mentor and currency: captured, platform fee, refunds, and earnings (captured - fee, as in the revenue report).

    `payments` has mentor_id, currency, captured_minor, platform_fee_minor and refunded_minor.
    """
    columns = ["mentor_id", "currency", "captured_minor", "fee_minor", "refunds_minor", "earnings_minor"]
    if payments.empty:
        return pd.DataFrame(columns=columns)
    table = payments.groupby(["mentor_id", "currency"])[["captured_minor", "platform_fee_minor", "refunded_minor"]] \
        .sum().astype("int64").reset_index()
    table = table.rename(columns={"platform_fee_minor": "fee_minor", "refunded_minor": "refunds_minor"})
    table["earnings_minor"] = table["captured_minor"] - table["fee_minor"]
    return table[columns]
