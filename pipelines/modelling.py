"""The modelling steps the train flow orchestrates: datasets, model families, fitting and hold-out evaluation.

Kept out of the flow modules (flows only orchestrate); everything here is plain pandas/numpy
over files, so a task can run it in any worker process.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from models.constants import (
    CATEGORIES_COL, HOURS_PER_WEEK, ITEM_COL, LANGUAGES_COL, RATING_COL, TEXT_COL, TIMESTAMP_COL, USER_COL,
    UTC_OFFSET_COL, WEEK_HOURS_COL,
)
from models.families import build
from models.metrics import catalogue_coverage, mae, mean_ranking_metrics, rmse

K = 10
IMPLICIT_RATING = 4.0  # a booking without a review counts as liked (the learner chose and paid)
ITEM_NUMERIC = ["price_minor", "years_experience", "rating_bayes", "rating_count", "popularity_90d",
                "response_rate", "acceptance_rate"]
USER_NUMERIC = ["searches_90d", "views_90d", "bookings_90d", "avg_price_booked", "price_band",
                "completed_sessions", "avg_rating_given"]


EPOCH = pd.Timestamp(0, tz="UTC")
USD_PRICE_COL = "price_usd_minor"  # mentors' prices in one currency (the learning-to-rank family compares them)


@dataclass(frozen=True)
class Family:
    """One model family: how to build it and which interactions it learns from."""

    name: str
    build: Callable[[], object]
    trains_on: str = "ranking"  # ranking: every booked pair; ratings: reviews only
    params: dict = field(default_factory=dict)
    uses_exposures: bool = False  # fit(..., exposures=): what learners were shown (negatives when not booked)


def _families() -> dict[str, Family]:
    return {f.name: f for f in [
        Family("popularity", lambda: build("popularity")),
        Family("content-tfidf", lambda: build("content-tfidf", item_text_cols=(TEXT_COL,),
                                              user_text_cols=(TEXT_COL,), min_df=1)),
        Family("knn-baseline", lambda: build("knn-baseline", k=40, user_based=False), trains_on="ratings"),
        Family("svd", lambda: build("svd", n_factors=50, n_epochs=30), trains_on="ratings"),
        Family("ease", lambda: build("ease", l2=50.0)),
        Family("neural-hybrid", lambda: build(
            "neural-hybrid", n_factors=32, n_epochs=20, item_numeric_cols=ITEM_NUMERIC, user_numeric_cols=USER_NUMERIC,
            user_categorical_cols=[CATEGORIES_COL], n_threads=1)),
        Family("ltr", lambda: build(
            "ltr", collaborative=build("ease", l2=50.0), content=build("content-tfidf", min_df=1),
            price_col=USD_PRICE_COL, n_threads=1), uses_exposures=True),
    ]}


FAMILY_NAMES = ("popularity", "content-tfidf", "knn-baseline", "svd", "ease", "neural-hybrid", "ltr")


def family(name: str) -> Family:
    families = _families()
    if name not in families:
        raise ValueError(f"unknown model family {name!r}; known: {', '.join(families)}")
    return families[name]


# ------------------------------------------------------------------ datasets
def time_split(interactions: pd.DataFrame, holdout_fraction: float = 0.2) -> pd.Timestamp:
    """The cut-off time: the last `holdout_fraction` of the observed time span is the hold-out."""
    if interactions.empty:
        raise ValueError("no interactions to split")
    start, end = interactions["event_timestamp"].min(), interactions["event_timestamp"].max()
    return start + (end - start) * (1.0 - holdout_fraction)


def trained_until(interactions: pd.DataFrame) -> pd.Timestamp:
    """The time of the newest interaction: the refit on all data knows everything up to it."""
    if interactions.empty:
        raise ValueError("no interactions")
    return pd.Timestamp(interactions["event_timestamp"].max())


def ranking_interactions(labels: pd.DataFrame) -> pd.DataFrame:
    """One row per learner-mentor pair: the last rating given (IMPLICIT_RATING for bookings without one)."""
    frame = labels.sort_values("event_timestamp")
    rated = frame.dropna(subset=["rating"]).groupby(["learner_id", "mentor_id"])["rating"].last()
    pairs = frame.groupby(["learner_id", "mentor_id"])["event_timestamp"].max().reset_index()
    pairs["rating"] = pairs.set_index(["learner_id", "mentor_id"]).index.map(rated).to_numpy(np.float64)
    pairs["rating"] = pairs["rating"].fillna(IMPLICIT_RATING)
    return _model_columns(pairs)


def rating_interactions(labels: pd.DataFrame) -> pd.DataFrame:
    """Reviews only: (learner, mentor, rating, time)."""
    return _model_columns(labels.dropna(subset=["rating"]))


def epoch_seconds(times: pd.Series) -> np.ndarray:
    """Times as whole seconds since 1970 UTC, whatever the resolution of their dtype (ns, us, ms or s)."""
    return ((pd.to_datetime(times, utc=True) - EPOCH) // pd.Timedelta(seconds=1)).to_numpy(np.int64)


def _model_columns(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        USER_COL: frame["learner_id"].astype(np.int64).to_numpy(),
        ITEM_COL: frame["mentor_id"].astype(np.int64).to_numpy(),
        RATING_COL: frame["rating"].astype(np.float64).to_numpy(),
        TIMESTAMP_COL: epoch_seconds(frame["event_timestamp"]),
    })


def relevant_in_holdout(holdout: pd.DataFrame, seen: pd.DataFrame) -> dict[int, set[int]]:
    """Per learner: mentors booked, or rated 4 or more, in the hold-out and not interacted with before."""
    liked = holdout[(holdout["kind"] == "booking") | (holdout["rating"] >= 4.0)]
    seen_pairs = set(zip(seen[USER_COL].tolist(), seen[ITEM_COL].tolist()))
    out: dict[int, set[int]] = {}
    for u, i in zip(liked["learner_id"].astype(int).tolist(), liked["mentor_id"].astype(int).tolist()):
        if (u, i) not in seen_pairs:
            out.setdefault(u, set()).add(i)
    return out


LEARNER_PROFILE_COLS = [UTC_OFFSET_COL, WEEK_HOURS_COL]
MENTOR_PROFILE_COLS = [USD_PRICE_COL, LANGUAGES_COL, UTC_OFFSET_COL, WEEK_HOURS_COL]


def users_frame(learner_features: pd.DataFrame, profiles: pd.DataFrame | None = None) -> pd.DataFrame:
    """Side information of learners for the models (the learner feature view, plus `learner_profiles`)."""
    frame = learner_features.rename(columns={"learner_id": USER_COL}).copy()
    frame[TEXT_COL] = (frame["interests_text"].fillna("") + " " + frame["interest_topics"].fillna("")).str.strip()
    frame[CATEGORIES_COL] = frame["interest_topics"].fillna("").str.split()
    for c in USER_NUMERIC:
        frame[c] = pd.to_numeric(frame[c], errors="coerce").astype(np.float64)
    columns = [USER_COL, TEXT_COL, CATEGORIES_COL, *USER_NUMERIC]
    if profiles is not None:
        frame = frame.merge(profiles[[USER_COL, *LEARNER_PROFILE_COLS]], on=USER_COL, how="left")
        columns += LEARNER_PROFILE_COLS
    return frame[columns]


def items_frame(mentor_features: pd.DataFrame, profiles: pd.DataFrame | None = None) -> pd.DataFrame:
    """Side information of mentors for the models (mentor activity and profile views, plus `mentor_profiles`)."""
    frame = mentor_features.rename(columns={"mentor_id": ITEM_COL}).copy()
    frame[TEXT_COL] = (frame["text"].fillna("") + " " + frame["topics"].fillna("")).str.strip()
    frame[CATEGORIES_COL] = frame["topics"].fillna("").str.split()
    for c in ITEM_NUMERIC:
        frame[c] = pd.to_numeric(frame[c], errors="coerce").astype(np.float64)
    columns = [ITEM_COL, TEXT_COL, CATEGORIES_COL, *ITEM_NUMERIC]
    if profiles is not None:
        frame = frame.merge(profiles[[ITEM_COL, *MENTOR_PROFILE_COLS]], on=ITEM_COL, how="left")
        columns += MENTOR_PROFILE_COLS
    return frame[columns]


# ------------------------------------------------ profiles and exposures (learning to rank)
def _utc_offset_hours(zone: str | None, at: pd.Timestamp) -> float:
    try:
        offset = pd.Timestamp(at).tz_convert(ZoneInfo(str(zone or "UTC"))).utcoffset()
    except (KeyError, ValueError):  # an unknown zone name
        return float("nan")
    return offset.total_seconds() / 3600.0 if offset is not None else 0.0


def week_hours(windows: list[tuple[int, str, str]], offset_hours: float) -> list[int]:
    """The hours of the week (0 = Monday 00:00 UTC .. 167) that weekly local windows (weekday, "HH:MM", "HH:MM") touch."""
    hours: set[int] = set()
    if not np.isfinite(offset_hours):
        offset_hours = 0.0
    for weekday, start, end in windows:
        try:
            h0, m0 = (int(x) for x in str(start)[:5].split(":"))
            h1, m1 = (int(x) for x in str(end)[:5].split(":"))
        except ValueError:
            continue
        # in hours since Monday 00:00 UTC: every hour the window touches, a part hour included
        start = int(weekday) * 24 + h0 + m0 / 60.0 - offset_hours
        end = int(weekday) * 24 + h1 + m1 / 60.0 - offset_hours
        hours.update(h % HOURS_PER_WEEK for h in range(int(np.floor(start)), int(np.ceil(end))))
    return sorted(hours)


def _json_list(value) -> list:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    return list(value)


def learner_profiles(records: dict[str, pd.DataFrame], at: pd.Timestamp) -> pd.DataFrame:
    """Per learner: the time zone's UTC offset (at `at`) and the preferred hours of the week (UTC)."""
    zones = records["user_zones"].rename(columns={"id": USER_COL}) if "user_zones" in records else \
        pd.DataFrame(columns=[USER_COL, "timezone"])
    frame = records["learners"].rename(columns={"user_id": USER_COL})
    frame = frame.merge(zones[[USER_COL, "timezone"]], on=USER_COL, how="left")
    offsets = {z: _utc_offset_hours(z, at) for z in frame["timezone"].fillna("UTC").unique()}
    frame[UTC_OFFSET_COL] = frame["timezone"].fillna("UTC").map(offsets).astype(np.float64)
    slots = frame["preferred_slots"] if "preferred_slots" in frame.columns else pd.Series([[]] * len(frame))
    frame[WEEK_HOURS_COL] = [
        week_hours([(s.get("weekday", 0), s.get("start", ""), s.get("end", "")) for s in _json_list(v)
                    if isinstance(s, dict)], off)
        for v, off in zip(slots.tolist(), frame[UTC_OFFSET_COL].tolist())]
    frame[USER_COL] = frame[USER_COL].astype(np.int64)
    return frame[[USER_COL, *LEARNER_PROFILE_COLS]]


def mentor_profiles(records: dict[str, pd.DataFrame], at: pd.Timestamp) -> pd.DataFrame:
    """Per mentor: price in USD minor units, languages, the time zone's UTC offset and available hours (UTC)."""
    frame = records["mentors"].rename(columns={"user_id": ITEM_COL}).copy()
    zone_col = frame["timezone"] if "timezone" in frame.columns else pd.Series("UTC", index=frame.index)
    offsets = {z: _utc_offset_hours(z, at) for z in zone_col.fillna("UTC").unique()}
    frame[UTC_OFFSET_COL] = zone_col.fillna("UTC").map(offsets).astype(np.float64)
    frame[LANGUAGES_COL] = frame["languages"].map(lambda v: [str(x) for x in _json_list(v)]) \
        if "languages" in frame.columns else [[] for _ in range(len(frame))]
    price = frame[USD_PRICE_COL] if USD_PRICE_COL in frame.columns else frame["price_minor"]
    frame[USD_PRICE_COL] = pd.to_numeric(price, errors="coerce").astype(np.float64)
    rules = records.get("availability")
    windows: dict[int, list[int]] = {}
    if rules is not None and len(rules):
        rule_offsets = {z: _utc_offset_hours(z, at) for z in rules["timezone"].fillna("UTC").unique()}
        for mentor, group in rules.groupby("mentor_id"):
            hours: set[int] = set()
            for weekday, start, end, zone in group[["weekday", "start_time", "end_time", "timezone"]].itertuples(
                    index=False):
                hours.update(week_hours([(weekday, start, end)], rule_offsets[zone if zone else "UTC"]))
            windows[int(mentor)] = sorted(hours)
    frame[ITEM_COL] = frame[ITEM_COL].astype(np.int64)
    frame[WEEK_HOURS_COL] = [windows.get(m, []) for m in frame[ITEM_COL].tolist()]
    return frame[[ITEM_COL, *MENTOR_PROFILE_COLS]]


def exposures(events: pd.DataFrame) -> pd.DataFrame:
    """What each learner was shown, one row per (learner, mentor, time): served recommendations (exposure
    events, payload `mentor_ids`) and search result pages (search events, payload `results`)."""
    rows: list[tuple[int, int, pd.Timestamp]] = []
    if len(events):
        shown = events[events["event_type"].astype(str).isin(["exposure", "search"])
                       & events["user_id"].notna()]
        for kind, user, when, payload in shown[["event_type", "user_id", "occurred_at", "payload"]].itertuples(
                index=False):
            try:
                data = json.loads(payload) if isinstance(payload, str) else (payload or {})
            except ValueError:
                continue
            mentors = data.get("mentor_ids" if str(kind) == "exposure" else "results") or []
            rows.extend((int(user), int(m), when) for m in mentors if m is not None)
    frame = pd.DataFrame(rows, columns=["learner_id", "mentor_id", "event_timestamp"])
    frame["event_timestamp"] = pd.to_datetime(frame["event_timestamp"], utc=True)
    return frame.drop_duplicates().reset_index(drop=True)


def exposure_interactions(shown: pd.DataFrame) -> pd.DataFrame:
    """Exposures in the models' columns (user, item, timestamp in seconds)."""
    return pd.DataFrame({
        USER_COL: shown["learner_id"].astype(np.int64).to_numpy(),
        ITEM_COL: shown["mentor_id"].astype(np.int64).to_numpy(),
        TIMESTAMP_COL: epoch_seconds(shown["event_timestamp"]),
    })


# ------------------------------------------------------------- fit and score
def load_dataset(paths: dict) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(path) for name, path in paths.items() if str(path).endswith(".parquet")}


def _fit(spec: Family, interactions: pd.DataFrame, users: pd.DataFrame, items: pd.DataFrame,
         shown: pd.DataFrame | None = None):
    started = time.perf_counter()
    extra = {"exposures": shown} if spec.uses_exposures else {}
    model = spec.build().fit(interactions, users=users, items=items, **extra)
    return model, time.perf_counter() - started


def fit_family(name: str, data: dict[str, pd.DataFrame]):
    """Fit one family on the training interactions (before the cut-off) and side frames; returns (model, seconds)."""
    spec = family(name)
    interactions = data["train_ratings"] if spec.trains_on == "ratings" else data["train_ranking"]
    return _fit(spec, interactions, data["users"], data["items"], data.get("train_exposures"))


def refit_family(name: str, data: dict[str, pd.DataFrame]):
    """Fit one family on ALL interactions (train + hold-out), side frames as of the newest one; (model, seconds)."""
    spec = family(name)
    interactions = data["all_ratings"] if spec.trains_on == "ratings" else data["all_ranking"]
    return _fit(spec, interactions, data["users_all"], data["items_all"], data.get("all_exposures"))


def fit_evaluate_refit(name: str, data: dict[str, pd.DataFrame]) -> dict:
    """The hold-out protocol, then the model to register.

    The family is fitted on the data before the cut-off and scored on the hold-out (those are
    the metrics to report), then fitted again on all the data so the registered model knows the
    newest bookings and ratings.
    """
    model, fit_seconds = fit_family(name, data)
    evaluation = evaluate(model, data)
    del model
    refit, refit_seconds = refit_family(name, data)
    spec = family(name)
    rows = len(data["all_ratings"] if spec.trains_on == "ratings" else data["all_ranking"])
    return {"model": refit, "metrics": evaluation["metrics"], "precision_curve": evaluation["precision_curve"],
            "fit_seconds": fit_seconds, "refit_seconds": refit_seconds, "refit_rows": rows}


def top_k(model, users: list, catalogue: list, seen: dict[int, set], k: int = K, chunk: int = 2_000) -> dict:
    """Top-k catalogue mentors per learner, never one the learner already interacted with in training."""
    position = {item: j for j, item in enumerate(catalogue)}
    out: dict = {}
    for start in range(0, len(users), chunk):
        batch = users[start:start + chunk]
        scores = np.asarray(model.score_batch(batch, catalogue), dtype=np.float64)
        for r, u in enumerate(batch):
            cols = [position[i] for i in seen.get(u, ()) if i in position]
            if cols:
                scores[r, cols] = -np.inf
        kk = min(k, len(catalogue))
        best = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
        order = np.take_along_axis(best, np.argsort(-np.take_along_axis(scores, best, 1), axis=1, kind="stable"), 1)
        for r, u in enumerate(batch):
            out[u] = [catalogue[j] for j in order[r] if np.isfinite(scores[r, j])]
    return out


def evaluate(model, data: dict[str, pd.DataFrame], k: int = K) -> dict:
    """Hold-out metrics: ranking (P/R/NDCG/MAP@k, coverage, P@1..k curve) and, for rating models, RMSE/MAE."""
    train = data["train_ranking"]
    seen: dict[int, set] = {}
    for u, i in zip(train[USER_COL].tolist(), train[ITEM_COL].tolist()):
        seen.setdefault(u, set()).add(i)
    relevant = relevant_in_holdout(data["holdout"], train)
    catalogue = data["items"][ITEM_COL].astype(int).tolist()
    users = sorted(relevant)
    metrics: dict[str, float] = {"holdout_users": float(len(users))}
    curve: list[float] = []
    if users:
        recs = top_k(model, users, catalogue, seen, k)
        metrics.update(mean_ranking_metrics(recs, relevant, k))
        metrics[f"coverage_at_{k}"] = catalogue_coverage(list(recs.values()), catalogue)
        hits = np.array([[1.0 if i in relevant[u] else 0.0 for i in (recs[u] + [None] * k)[:k]] for u in users])
        curve = (hits.cumsum(axis=1) / np.arange(1, k + 1)).mean(axis=0).tolist()
    if getattr(model, "predicts_ratings", False):
        rated = data["holdout"].dropna(subset=["rating"])
        if len(rated):
            pred = model.predict(rated["learner_id"].astype(int).tolist(), rated["mentor_id"].astype(int).tolist())
            metrics["rmse"] = rmse(rated["rating"].to_numpy(), pred)
            metrics["mae"] = mae(rated["rating"].to_numpy(), pred)
    return {"metrics": metrics, "precision_curve": curve}


def precision_chart(curves: dict[str, list[float]], path: Path, title: str = "Precision@k on the hold-out") -> Path:
    """A PNG line chart of precision at k = 1..K, one line per model."""
    import matplotlib  # lazy: matplotlib, only to draw the chart

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, curve in curves.items():
        if curve:
            ax.plot(range(1, len(curve) + 1), curve, marker="o", label=name)
    ax.set_xlabel("k")
    ax.set_ylabel("precision@k")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def rank_candidates(candidates: list[dict], metric: str = f"ndcg_at_{K}", tie_break: str = f"precision_at_{K}") -> list[dict]:
    """Candidates best first by the hold-out metric, then the tie-break."""
    return sorted(candidates, key=lambda c: (c["metrics"].get(metric, -1.0), c["metrics"].get(tie_break, -1.0)),
                  reverse=True)
