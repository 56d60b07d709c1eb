"""Point-in-time feature tables from the exported records and events (pure pandas, no I/O).

Every table has one row per entity (or learner-mentor pair) per day with activity, stamped
with the time of that day's last activity (`event_timestamp`), and holds only what was known at
that time: counts are cumulative or over trailing windows ending at the row's timestamp, so a
Feast point-in-time join never sees an event later than the label it is joined to.

Inputs (column names of the app's tables):
events: id, occurred_at, event_type, user_id, mentor_id, booking_id, payload (JSON text)
bookings: id, learner_id, mentor_id, created_at, updated_at, starts_at, ends_at, status, price_minor
reviews: id, booking_id, learner_id, mentor_id, rating, created_at
learners: user_id, interests, created_at; learner_topics: learner_id, topic_id
mentors: user_id, headline, bio, years_experience, past_roles, price_minor, created_at;
mentor_topics: mentor_id, topic_id; topics: id, slug, name, category
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

DAY = 86_400
WINDOWS = {"30d": 30 * DAY, "90d": 90 * DAY}
PRICE_BANDS = (2_500, 5_000, 10_000)  # minor units: band 1 below 25.00, 2 below 50.00, 3 below 100.00, else 4
RATING_PRIOR_MEAN = 4.0
RATING_PRIOR_WEIGHT = 5.0
ACCEPTED_STATUSES = ("accepted", "completed", "no_show")
RESPONDED_STATUSES = (*ACCEPTED_STATUSES, "rejected", "cancelled_by_mentor")


def utc(series: pd.Series) -> pd.Series:
    """Timestamps (text, naive or aware) as UTC-aware datetimes."""
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert("UTC")
    return pd.to_datetime(series, utc=True, format="ISO8601")


def _seconds(ts: pd.Series) -> np.ndarray:
    return (utc(ts).astype("int64") // 10**9).to_numpy() if len(ts) else np.zeros(0, np.int64)


def _timeline(parts: list[pd.DataFrame], keys: list[str], value_cols: list[str]) -> pd.DataFrame:
    """Concatenate activity rows (keys, ts, values...), missing values as 0, sorted by keys and time."""
    frames = [p for p in parts if len(p)]
    if not frames:
        return pd.DataFrame(columns=[*keys, "ts", *value_cols])
    tl = pd.concat(frames, ignore_index=True)
    for c in value_cols:
        tl[c] = tl[c].fillna(0.0).astype(np.float64) if c in tl.columns else 0.0
    tl["ts"] = utc(tl["ts"])
    for k in keys:
        tl[k] = tl[k].astype(np.int64)
    return tl.sort_values([*keys, "ts"], kind="stable").reset_index(drop=True)


def _accumulate(tl: pd.DataFrame, keys: list[str], cum_cols: list[str], window_cols: list[str]) -> pd.DataFrame:
    """Add cumulative sums (`cum_<col>`) and trailing-window sums (`<col>_30d`, `<col>_90d`) per key."""
    out = tl.copy()
    grouped = out.groupby(keys, sort=False)
    for c in cum_cols:
        out[f"cum_{c}"] = grouped[c].cumsum()
    if window_cols and len(out):
        group = grouped.ngroup().to_numpy(np.int64)
        secs = _seconds(out["ts"])
        secs = secs - secs.min()
        key = group * 10**10 + secs  # groups never overlap: a window is far shorter than 10**10 s
        for c in window_cols:
            total = np.concatenate([[0.0], np.cumsum(out[c].to_numpy(np.float64))])
            for name, width in WINDOWS.items():
                left = np.searchsorted(key, key - width, side="right")
                out[f"{c}_{name}"] = total[np.arange(len(out)) + 1] - total[left]
    return out


def _daily_last(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One row per key per UTC day: the last one, stamped with its own time."""
    if frame.empty:
        return frame
    day = frame["ts"].dt.floor("D")
    last = ~frame.assign(_day=day).duplicated([*keys, "_day"], keep="last")
    out = frame[last.to_numpy()].copy()
    out["event_timestamp"] = out["ts"]
    out["created"] = out["ts"]
    return out


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    return (num / den.where(den > 0)).astype(np.float64)


def price_band(avg_price: pd.Series) -> pd.Series:
    """0 without bookings, then 1..4 by the average price booked (see PRICE_BANDS)."""
    band = np.searchsorted(np.asarray(PRICE_BANDS), avg_price.fillna(-1).to_numpy(), side="right") + 1
    return pd.Series(np.where(avg_price.isna(), 0, band), index=avg_price.index, dtype=np.int64)


def _events_of(events: pd.DataFrame, kind: str) -> pd.DataFrame:
    return events[events["event_type"] == kind] if len(events) else events


def topic_text(links: pd.DataFrame, topics: pd.DataFrame, owner_col: str) -> pd.DataFrame:
    """Per owner: `topics` (space-separated slugs) and `topic_names` (names and categories)."""
    if links.empty or topics.empty:
        return pd.DataFrame(columns=[owner_col, "topics", "topic_names"])
    joined = links.merge(topics.rename(columns={"id": "topic_id"}), on="topic_id", how="inner")
    joined = joined.sort_values([owner_col, "slug"])
    return joined.groupby(owner_col).agg(
        topics=("slug", " ".join),
        topic_names=("name", lambda s: " ".join(s)),
    ).reset_index()


def responded_at(bookings: pd.DataFrame, events: pd.DataFrame) -> pd.Series:
    """When the mentor answered each booking: its booking_outcome event, else its last update (clipped to the session)."""
    created = utc(bookings["created_at"])
    fallback = utc(bookings["updated_at"]).clip(lower=created)
    fallback = fallback.where(fallback <= utc(bookings["starts_at"]), utc(bookings["starts_at"]).clip(lower=created))
    outcomes = _events_of(events, "booking_outcome")
    if len(outcomes):
        first = outcomes.dropna(subset=["booking_id"]).groupby("booking_id")["occurred_at"].min()
        first.index = first.index.astype(np.int64)
        from_events = bookings["id"].astype(np.int64).map(utc(first))
        return from_events.where(from_events.notna(), fallback)
    return fallback


def learner_features(
    learners: pd.DataFrame,
    learner_topics: pd.DataFrame,
    topics: pd.DataFrame,
    bookings: pd.DataFrame,
    reviews: pd.DataFrame,
    events: pd.DataFrame,
) -> pd.DataFrame:
    """Learner feature table: interests, activity in 30/90 days, price band, sessions, ratings given."""
    learner_ids = set(learners["user_id"].astype(np.int64))
    searches = _events_of(events, "search")
    views = _events_of(events, "profile_view")
    completed = bookings[bookings["status"] == "completed"]
    parts = [
        pd.DataFrame({"learner_id": learners["user_id"], "ts": learners["created_at"]}),
        pd.DataFrame({"learner_id": searches["user_id"], "ts": searches["occurred_at"], "search": 1.0}),
        pd.DataFrame({"learner_id": views["user_id"], "ts": views["occurred_at"], "view": 1.0}),
        pd.DataFrame({"learner_id": bookings["learner_id"], "ts": bookings["created_at"], "booking": 1.0,
                      "price": bookings["price_minor"]}),
        pd.DataFrame({"learner_id": completed["learner_id"], "ts": completed["ends_at"], "completed": 1.0}),
        pd.DataFrame({"learner_id": reviews["learner_id"], "ts": reviews["created_at"], "rated": 1.0,
                      "rating": reviews["rating"]}),
    ]
    parts = [p.dropna(subset=["learner_id"]) for p in parts]
    values = ["search", "view", "booking", "price", "completed", "rated", "rating"]
    tl = _timeline(parts, ["learner_id"], values)
    tl = tl[tl["learner_id"].isin(learner_ids)]
    tl = _accumulate(tl, ["learner_id"], ["booking", "price", "completed", "rated", "rating"],
                     ["search", "view", "booking"])
    out = _daily_last(tl, ["learner_id"])
    avg_price = _ratio(out["cum_price"], out["cum_booking"])
    text = topic_text(learner_topics, topics, "learner_id")
    profile = learners[["user_id", "interests"]].rename(columns={"user_id": "learner_id"})
    profile = profile.merge(text, on="learner_id", how="left")
    profile["interest_topics"] = profile["topics"].fillna("")
    profile["interests_text"] = (profile["interests"].fillna("") + " " + profile["topic_names"].fillna("")).str.strip()
    table = pd.DataFrame({
        "learner_id": out["learner_id"].to_numpy(np.int64),
        "event_timestamp": out["event_timestamp"].to_numpy(),
        "created": out["created"].to_numpy(),
        "searches_30d": out["search_30d"].to_numpy(np.int64),
        "searches_90d": out["search_90d"].to_numpy(np.int64),
        "views_30d": out["view_30d"].to_numpy(np.int64),
        "views_90d": out["view_90d"].to_numpy(np.int64),
        "bookings_30d": out["booking_30d"].to_numpy(np.int64),
        "bookings_90d": out["booking_90d"].to_numpy(np.int64),
        "avg_price_booked": avg_price.to_numpy(),
        "price_band": price_band(avg_price).to_numpy(),
        "completed_sessions": out["cum_completed"].to_numpy(np.int64),
        "avg_rating_given": _ratio(out["cum_rating"], out["cum_rated"]).to_numpy(),
    })
    table = table.merge(profile[["learner_id", "interest_topics", "interests_text"]], on="learner_id", how="left")
    for c in ("interest_topics", "interests_text"):
        table[c] = table[c].fillna("")
    return _finish(table, ["learner_id"])


def mentor_activity(mentors: pd.DataFrame, bookings: pd.DataFrame, reviews: pd.DataFrame,
                    events: pd.DataFrame) -> pd.DataFrame:
    """Mentor activity table: rating average, Bayesian rating, count, popularity, response and acceptance."""
    mentor_ids = set(mentors["user_id"].astype(np.int64))
    status = bookings["status"].astype(str)
    answered = bookings.assign(_at=responded_at(bookings, events))[status.isin(RESPONDED_STATUSES).to_numpy()]
    completed = bookings[status == "completed"]
    parts = [
        pd.DataFrame({"mentor_id": mentors["user_id"], "ts": mentors["created_at"]}),
        pd.DataFrame({"mentor_id": bookings["mentor_id"], "ts": bookings["created_at"], "request": 1.0}),
        pd.DataFrame({"mentor_id": answered["mentor_id"], "ts": answered["_at"], "responded": 1.0,
                      "accepted": answered["status"].isin(ACCEPTED_STATUSES).astype(float)}),
        pd.DataFrame({"mentor_id": completed["mentor_id"], "ts": completed["ends_at"], "completed": 1.0}),
        pd.DataFrame({"mentor_id": reviews["mentor_id"], "ts": reviews["created_at"], "rated": 1.0,
                      "rating": reviews["rating"]}),
    ]
    values = ["request", "responded", "accepted", "completed", "rated", "rating"]
    tl = _timeline(parts, ["mentor_id"], values)
    tl = tl[tl["mentor_id"].isin(mentor_ids)]
    tl = _accumulate(tl, ["mentor_id"], ["request", "responded", "accepted", "rated", "rating"], ["completed"])
    out = _daily_last(tl, ["mentor_id"])
    table = pd.DataFrame({
        "mentor_id": out["mentor_id"].to_numpy(np.int64),
        "event_timestamp": out["event_timestamp"].to_numpy(),
        "created": out["created"].to_numpy(),
        "rating_avg": _ratio(out["cum_rating"], out["cum_rated"]).to_numpy(),
        "rating_bayes": ((RATING_PRIOR_WEIGHT * RATING_PRIOR_MEAN + out["cum_rating"])
                         / (RATING_PRIOR_WEIGHT + out["cum_rated"])).to_numpy(np.float64),
        "rating_count": out["cum_rated"].to_numpy(np.int64),
        "popularity_90d": out["completed_90d"].to_numpy(np.int64),
        "response_rate": _ratio(out["cum_responded"], out["cum_request"]).clip(upper=1.0).to_numpy(),
        "acceptance_rate": _ratio(out["cum_accepted"], out["cum_responded"]).to_numpy(),
    })
    return _finish(table, ["mentor_id"])


def _roles_text(value) -> str:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    if isinstance(value, (list, tuple, np.ndarray)):
        return " ".join(map(str, value))
    return ""


def mentor_profile(mentors: pd.DataFrame, mentor_topics: pd.DataFrame, topics: pd.DataFrame) -> pd.DataFrame:
    """Mentor profile table: price, experience, topics and text (headline, topics, bio, past roles), as of sign-up."""
    text = topic_text(mentor_topics, topics, "mentor_id")
    frame = mentors.rename(columns={"user_id": "mentor_id"}).merge(text, on="mentor_id", how="left")
    ts = utc(frame["created_at"])
    table = pd.DataFrame({
        "mentor_id": frame["mentor_id"].astype(np.int64),
        "event_timestamp": ts,
        "created": ts,
        "price_minor": frame["price_minor"].fillna(0).astype(np.int64),
        "years_experience": frame["years_experience"].fillna(0).astype(np.int64),
        "topics": frame["topics"].fillna(""),
        "text": (frame["headline"].fillna("") + " " + frame["topic_names"].fillna("") + " "
                 + frame["bio"].fillna("") + " " + frame["past_roles"].map(_roles_text)).str.strip(),
    })
    return _finish(table, ["mentor_id"])


def learner_mentor(bookings: pd.DataFrame, reviews: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Learner-mentor table: profile views, bookings and the last rating of the pair so far."""
    views = _events_of(events, "profile_view")
    parts = [
        pd.DataFrame({"learner_id": views["user_id"], "mentor_id": views["mentor_id"],
                      "ts": views["occurred_at"], "view": 1.0}),
        pd.DataFrame({"learner_id": bookings["learner_id"], "mentor_id": bookings["mentor_id"],
                      "ts": bookings["created_at"], "booking": 1.0}),
        pd.DataFrame({"learner_id": reviews["learner_id"], "mentor_id": reviews["mentor_id"],
                      "ts": reviews["created_at"], "rating_value": reviews["rating"].astype(float)}),
    ]
    parts = [p.dropna(subset=["learner_id", "mentor_id"]) for p in parts]
    keys = ["learner_id", "mentor_id"]
    tl = _timeline(parts, keys, ["view", "booking"])
    if "rating_value" not in tl.columns:
        tl["rating_value"] = np.nan
    tl = _accumulate(tl, keys, ["view", "booking"], [])
    tl["last_rating"] = tl.groupby(keys, sort=False)["rating_value"].ffill()
    out = _daily_last(tl, keys)
    table = pd.DataFrame({
        "learner_id": out["learner_id"].to_numpy(np.int64),
        "mentor_id": out["mentor_id"].to_numpy(np.int64),
        "event_timestamp": out["event_timestamp"].to_numpy(),
        "created": out["created"].to_numpy(),
        "views": out["cum_view"].to_numpy(np.int64),
        "bookings": out["cum_booking"].to_numpy(np.int64),
        "last_rating": out["last_rating"].to_numpy(np.float64),
    })
    return _finish(table, keys)


def _finish(table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    for c in ("event_timestamp", "created"):
        table[c] = utc(table[c]).astype("datetime64[us, UTC]")
    return table.sort_values([*keys, "event_timestamp"], kind="stable").reset_index(drop=True)


def interactions(bookings: pd.DataFrame, reviews: pd.DataFrame) -> pd.DataFrame:
    """Labels: one row per booking request (rating NaN) and per review (its rating), with their time."""
    rows = [
        pd.DataFrame({"learner_id": bookings["learner_id"], "mentor_id": bookings["mentor_id"],
                      "event_timestamp": utc(bookings["created_at"]), "kind": "booking", "rating": np.nan,
                      "status": bookings["status"].astype(str)}),
        pd.DataFrame({"learner_id": reviews["learner_id"], "mentor_id": reviews["mentor_id"],
                      "event_timestamp": utc(reviews["created_at"]), "kind": "rating",
                      "rating": reviews["rating"].astype(float), "status": "rated"}),
    ]
    frame = pd.concat([r for r in rows if len(r)], ignore_index=True) if any(len(r) for r in rows) else rows[0]
    frame["learner_id"] = frame["learner_id"].astype(np.int64)
    frame["mentor_id"] = frame["mentor_id"].astype(np.int64)
    frame["event_timestamp"] = utc(frame["event_timestamp"]).astype("datetime64[us, UTC]")
    return frame.sort_values(["event_timestamp", "learner_id", "mentor_id"], kind="stable").reset_index(drop=True)


def latest(table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The last row per entity: the current value of every feature."""
    if table.empty:
        return table
    return table.sort_values([*keys, "event_timestamp"]).drop_duplicates(keys, keep="last").reset_index(drop=True)


def compute_all(records: dict[str, pd.DataFrame], events: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Every feature table plus the interaction labels, from the record snapshots and all events."""
    return {
        "learner_features": learner_features(records["learners"], records["learner_topics"], records["topics"],
                                             records["bookings"], records["reviews"], events),
        "mentor_activity": mentor_activity(records["mentors"], records["bookings"], records["reviews"], events),
        "mentor_profile": mentor_profile(records["mentors"], records["mentor_topics"], records["topics"]),
        "learner_mentor": learner_mentor(records["bookings"], records["reviews"], events),
        "interactions": interactions(records["bookings"], records["reviews"]),
    }
