"""The modelling steps the train flow orchestrates: datasets, model families, fitting and hold-out evaluation.

Kept out of the flow modules (flows only orchestrate); everything here is plain pandas/numpy
over files, so a task can run it in any worker process.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from models.constants import CATEGORIES_COL, ITEM_COL, RATING_COL, TEXT_COL, TIMESTAMP_COL, USER_COL

K = 10
IMPLICIT_RATING = 4.0  # a booking without a review counts as liked (the learner chose and paid)
ITEM_NUMERIC = ["price_minor", "years_experience", "rating_bayes", "rating_count", "popularity_90d",
                "response_rate", "acceptance_rate"]
USER_NUMERIC = ["searches_90d", "views_90d", "bookings_90d", "avg_price_booked", "price_band",
                "completed_sessions", "avg_rating_given"]


@dataclass(frozen=True)
class Family:
    """One model family: how to build it and which interactions it learns from."""

    name: str
    build: Callable[[], object]
    trains_on: str = "ranking"  # ranking: every booked pair; ratings: reviews only
    params: dict = field(default_factory=dict)


def _families() -> dict[str, Family]:
    from models.collaborative import KNNBaselineRecommender, SVDRecommender
    from models.content import TfidfContentRecommender
    from models.implicit import EASERecommender
    from models.neural import NeuralHybridRecommender
    from models.popularity import PopularityRecommender

    return {f.name: f for f in [
        Family("popularity", lambda: PopularityRecommender()),
        Family("content-tfidf", lambda: TfidfContentRecommender(item_text_cols=(TEXT_COL,),
                                                                user_text_cols=(TEXT_COL,), min_df=1)),
        Family("knn-baseline", lambda: KNNBaselineRecommender(k=40, user_based=False), trains_on="ratings"),
        Family("svd", lambda: SVDRecommender(n_factors=50, n_epochs=30), trains_on="ratings"),
        Family("ease", lambda: EASERecommender(l2=50.0)),
        Family("neural-hybrid", lambda: NeuralHybridRecommender(
            n_factors=32, n_epochs=20, item_numeric_cols=ITEM_NUMERIC, user_numeric_cols=USER_NUMERIC,
            user_categorical_cols=[CATEGORIES_COL], n_threads=1)),
    ]}


FAMILY_NAMES = ("popularity", "content-tfidf", "knn-baseline", "svd", "ease", "neural-hybrid")


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


def _model_columns(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        USER_COL: frame["learner_id"].astype(np.int64).to_numpy(),
        ITEM_COL: frame["mentor_id"].astype(np.int64).to_numpy(),
        RATING_COL: frame["rating"].astype(np.float64).to_numpy(),
        TIMESTAMP_COL: (pd.to_datetime(frame["event_timestamp"], utc=True).astype("int64") // 10**9).to_numpy(),
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


def users_frame(learner_features: pd.DataFrame) -> pd.DataFrame:
    """Side information of learners for the models (from the learner feature view)."""
    frame = learner_features.rename(columns={"learner_id": USER_COL}).copy()
    frame[TEXT_COL] = (frame["interests_text"].fillna("") + " " + frame["interest_topics"].fillna("")).str.strip()
    frame[CATEGORIES_COL] = frame["interest_topics"].fillna("").str.split()
    for c in USER_NUMERIC:
        frame[c] = pd.to_numeric(frame[c], errors="coerce").astype(np.float64)
    return frame[[USER_COL, TEXT_COL, CATEGORIES_COL, *USER_NUMERIC]]


def items_frame(mentor_features: pd.DataFrame) -> pd.DataFrame:
    """Side information of mentors for the models (mentor activity and profile views)."""
    frame = mentor_features.rename(columns={"mentor_id": ITEM_COL}).copy()
    frame[TEXT_COL] = (frame["text"].fillna("") + " " + frame["topics"].fillna("")).str.strip()
    frame[CATEGORIES_COL] = frame["topics"].fillna("").str.split()
    for c in ITEM_NUMERIC:
        frame[c] = pd.to_numeric(frame[c], errors="coerce").astype(np.float64)
    return frame[[ITEM_COL, TEXT_COL, CATEGORIES_COL, *ITEM_NUMERIC]]


# ------------------------------------------------------------- fit and score
def load_dataset(paths: dict) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(path) for name, path in paths.items() if str(path).endswith(".parquet")}


def _fit(spec: Family, interactions: pd.DataFrame, users: pd.DataFrame, items: pd.DataFrame):
    started = time.perf_counter()
    model = spec.build().fit(interactions, users=users, items=items)
    return model, time.perf_counter() - started


def fit_family(name: str, data: dict[str, pd.DataFrame]):
    """Fit one family on the training interactions (before the cut-off) and side frames; returns (model, seconds)."""
    spec = family(name)
    interactions = data["train_ratings"] if spec.trains_on == "ratings" else data["train_ranking"]
    return _fit(spec, interactions, data["users"], data["items"])


def refit_family(name: str, data: dict[str, pd.DataFrame]):
    """Fit one family on ALL interactions (train + hold-out), side frames as of the newest one; (model, seconds)."""
    spec = family(name)
    interactions = data["all_ratings"] if spec.trains_on == "ratings" else data["all_ranking"]
    return _fit(spec, interactions, data["users_all"], data["items_all"])


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
    from models.metrics import catalogue_coverage, mae, mean_ranking_metrics, rmse

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
    import matplotlib

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
