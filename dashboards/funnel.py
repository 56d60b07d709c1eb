"""The funnel search -> profile view -> booking request -> accepted -> completed -> reviewed."""
from __future__ import annotations

import pandas as pd

STAGES = ("search", "profile_view", "booking_request", "accepted", "completed", "reviewed")
LABELS = {"search": "Searches", "profile_view": "Profile views", "booking_request": "Booking requests",
          "accepted": "Accepted", "completed": "Completed", "reviewed": "Reviewed"}
ACCEPTED_STATUSES = {"accepted", "completed", "no_show"}


def funnel(events: pd.DataFrame, bookings: pd.DataFrame) -> list[dict]:
    """Counts per stage with the conversion from the previous stage and from the first.

    `events` has an `event_type` column (search and profile_view rows count); `bookings` has one row
    per booking requested in the range with `status`, `was_accepted` (the mentor accepted it at some
    point, even if it was cancelled later) and `reviewed` (the learner wrote a review).
    """
    kinds = events["event_type"].value_counts() if len(events) else pd.Series(dtype="int64")
    accepted = (bookings["was_accepted"].astype(bool) | bookings["status"].isin(ACCEPTED_STATUSES)) \
        if len(bookings) else pd.Series(dtype=bool)
    counts = {
        "search": int(kinds.get("search", 0)),
        "profile_view": int(kinds.get("profile_view", 0)),
        "booking_request": int(len(bookings)),
        "accepted": int(accepted.sum()),
        "completed": int((bookings["status"] == "completed").sum()) if len(bookings) else 0,
        "reviewed": int(bookings["reviewed"].astype(bool).sum()) if len(bookings) else 0,
    }
    rows, first, previous = [], counts["search"], None
    for stage in STAGES:
        count = counts[stage]
        rows.append({"stage": stage, "label": LABELS[stage], "count": count,
                     "from_previous": (count / previous) if previous else None,
                     "from_first": (count / first) if first else None})
        previous = count
    return rows
