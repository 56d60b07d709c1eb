"""Offline recommender benchmark on MovieLens-100k folds u1..u5 (DESIGN.md protocol).

Rating prediction: RMSE and MAE over every test rating, averaged over folds. Top-N: for
each user rank every catalogue item not in the user's training ratings; relevant items
are the user's test items rated >= 4; Precision/Recall/NDCG@10 averaged over users with
at least one relevant item, then over folds. Peers are run in the same invocation.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from models.base import Recommender
from models.collaborative import (
    BaselineOnlyRecommender,
    KNNBaselineRecommender,
    SVDppRecommender,
    SVDRecommender,
)
from models.content import TfidfContentRecommender
from models.constants import ITEM_COL, RATING_COL, RELEVANCE_THRESHOLD, USER_COL
from models.data import load_movielens_fold, load_movielens_items, load_movielens_users
from models.ensemble import BlendRecommender, RatingAwareRanker
from models.implicit import EASERecommender, ItemKNNRecommender, RP3betaRecommender
from models.ltr import LearningToRankRecommender
from models.metrics import catalogue_coverage, mae, mean_ranking_metrics, rmse
from models.neural import NeuralHybridRecommender
from models.popularity import PopularityRecommender

MLFLOW_EXPERIMENT = "offline-benchmark-ml100k"
METRICS = ("rmse", "mae", "precision_at_10", "recall_at_10", "ndcg_at_10", "fit_seconds")
RATING = "rating"
RANKING = "ranking"


@dataclass(frozen=True)
class ModelSpec:
    """One benchmarked model: a factory for a fresh instance and the tasks it is scored on."""

    name: str
    factory: Callable[[], Recommender]
    tasks: tuple[str, ...] = (RATING, RANKING)
    peer: bool = False
    default: bool = True
    description: str = ""


def _specs() -> list[ModelSpec]:
    specs = [
        # peers (DESIGN.md table)
        ModelSpec("peer-baseline-only", BaselineOnlyRecommender, (RATING,), peer=True,
                  description="surprise BaselineOnly"),
        ModelSpec("peer-svd", lambda: SVDRecommender(random_state=0), (RATING, RANKING), peer=True,
                  description="surprise SVD, default, random_state=0"),
        ModelSpec("peer-knn-baseline-item", lambda: KNNBaselineRecommender(user_based=False), (RATING,), peer=True,
                  description="surprise KNNBaseline item-based pearson_baseline"),
        ModelSpec("peer-popularity", PopularityRecommender, (RANKING,), peer=True,
                  description="item interaction count"),
        ModelSpec("peer-item-knn-cosine", ItemKNNRecommender, (RANKING,), peer=True,
                  description="item-kNN, cosine on binary interactions"),
        # ours
        ModelSpec("knn-baseline-user", lambda: KNNBaselineRecommender(user_based=True, k=50), (RATING,)),
        ModelSpec("svdpp", lambda: SVDppRecommender(), (RATING, RANKING)),
        ModelSpec("content-tfidf", TfidfContentRecommender, (RANKING,)),
        ModelSpec("ease", lambda: EASERecommender(l2=EASE_L2), (RANKING,)),
        ModelSpec("rp3beta", lambda: RP3betaRecommender(**RP3BETA_PARAMS), (RANKING,)),
    ]
    specs += _late_specs()
    return specs


def _late_specs() -> list[ModelSpec]:
    """Hybrids: the neural model, the rating-aware EASE ranker and the stacked rating blend."""
    return [
        ModelSpec("ease-liked", lambda: EASERecommender(l2=EASE_L2, target_min_rating=4.0), (RANKING,)),
        ModelSpec("ease-x-svdpp", lambda: RatingAwareRanker(EASERecommender(l2=EASE_L2), SVDppRecommender()),
                  (RANKING,), description="EASE score times sigmoid of the SVD++ rating estimate"),
        ModelSpec("ease-x-neural", lambda: RatingAwareRanker(EASERecommender(l2=EASE_L2), NeuralHybridRecommender()),
                  (RANKING,), description="EASE score times sigmoid of the neural hybrid's rating estimate"),
        ModelSpec("neural-hybrid", NeuralHybridRecommender, (RATING, RANKING)),
        ModelSpec("ltr", lambda: LearningToRankRecommender(collaborative=EASERecommender(l2=EASE_L2), split="user", n_negatives=200,
                                                            like_threshold=RELEVANCE_THRESHOLD), (RANKING,),
                  description="LightGBM lambdarank over user x item features and the EASE and content scores; "
                              "each user's latest quarter of ratings is what the ranker learns; negatives: those rated below 4 "
                              "and random catalogue items (no exposure log)"),
        ModelSpec("blend", BlendRecommender, (RATING,),
                  description="ridge stack of KNNBaseline item+user, SVD++, the neural hybrid and a biased MF"),
    ]


# Hyperparameters chosen on a validation split of u1.base only (never on the .test files).
EASE_L2 = 500.0
RP3BETA_PARAMS: dict[str, Any] = {"alpha": 1.0, "beta": 0.5, "k_neighbors": 200}


def model_specs() -> dict[str, ModelSpec]:
    """Every benchmarkable model by name."""
    return {s.name: s for s in _specs()}


def default_model_names() -> list[str]:
    return [s.name for s in _specs() if s.default]


@dataclass
class FoldData:
    train: pd.DataFrame
    test: pd.DataFrame
    users: pd.DataFrame | None
    items: pd.DataFrame | None
    catalogue: np.ndarray = field(default_factory=lambda: np.zeros(0))


def load_fold(data_dir: str | Path, fold: int) -> FoldData:
    """Train/test frames of one fold, with user and item side information when present."""
    data_dir = Path(data_dir)
    train, test = load_movielens_fold(data_dir, fold)
    items = load_movielens_items(data_dir) if (data_dir / "u.item").is_file() else None
    users = load_movielens_users(data_dir) if (data_dir / "u.user").is_file() else None
    if items is not None:
        catalogue = items[ITEM_COL].to_numpy()
    else:
        catalogue = np.asarray(sorted(set(train[ITEM_COL]) | set(test[ITEM_COL])))
    return FoldData(train, test, users, items, catalogue)


def evaluate_rating(model: Recommender, test: pd.DataFrame) -> dict[str, float]:
    pred = model.predict(test[USER_COL].tolist(), test[ITEM_COL].tolist())
    return {"rmse": rmse(test[RATING_COL].to_numpy(), pred), "mae": mae(test[RATING_COL].to_numpy(), pred)}


def top_k_lists(model: Recommender, train: pd.DataFrame, users: Sequence, catalogue: np.ndarray,
                k: int = 10, chunk: int = 256) -> dict[Any, list]:
    """Each user's top-k catalogue items, excluding the user's training items."""
    pos = {item: n for n, item in enumerate(catalogue.tolist())}
    seen = train.groupby(USER_COL)[ITEM_COL].agg(list).to_dict()
    out: dict[Any, list] = {}
    users = list(users)
    for start in range(0, len(users), chunk):
        batch = users[start : start + chunk]
        scores = model.score_batch(batch, catalogue.tolist()).astype(np.float64)
        for row, user in enumerate(batch):
            s = scores[row]
            s[np.isnan(s)] = -np.inf
            banned = [pos[i] for i in seen.get(user, []) if i in pos]
            s[banned] = -np.inf
            top = np.argsort(-s, kind="stable")[:k]
            out[user] = [catalogue[j] for j in top if np.isfinite(s[j])]
    return out


def evaluate_ranking(model: Recommender, fold: FoldData, k: int = 10) -> dict[str, float]:
    liked = fold.test[fold.test[RATING_COL] >= RELEVANCE_THRESHOLD]
    relevant = liked.groupby(USER_COL)[ITEM_COL].agg(set).to_dict()
    recs = top_k_lists(model, fold.train, sorted(relevant), fold.catalogue, k)
    metrics = mean_ranking_metrics(recs, relevant, k)
    metrics[f"catalogue_coverage_at_{k}"] = catalogue_coverage(recs.values(), fold.catalogue.tolist())
    return metrics


def run_benchmark(
    data_dir: str | Path,
    folds: Iterable[int] = (1, 2, 3, 4, 5),
    models: Sequence[str] | None = None,
    k: int = 10,
    json_path: str | Path | None = None,
    mlflow_tracking_uri: str | None = None,
    progress: bool = True,
    echo: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the protocol for the chosen models (default: all default ones) and return the result dict."""
    specs = model_specs()
    names = list(models) if models else default_model_names()
    unknown = [n for n in names if n not in specs]
    if unknown:
        raise ValueError(f"unknown models {unknown}; choose from {sorted(specs)}")
    folds = [int(f) for f in folds]
    if not folds:
        raise ValueError("no folds given")
    per_fold = _run_folds(data_dir, folds, [specs[n] for n in names], k, progress, echo)
    result = _summarise(per_fold, specs, folds, k)
    if json_path is not None:
        path = Path(json_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2, sort_keys=False) + "\n")
    if mlflow_tracking_uri:
        log_to_mlflow(result, mlflow_tracking_uri)
    return result


def _run_folds(data_dir: str | Path, folds: list[int], specs: list[ModelSpec], k: int, progress: bool,
               echo: Callable[[str], None] | None) -> dict[str, list[dict[str, float]]]:
    """Fit and score every model on every fold: model name -> one row of metrics per fold."""
    per_fold: dict[str, list[dict[str, float]]] = {spec.name: [] for spec in specs}
    bar = tqdm(total=len(folds) * len(specs), disable=not progress, desc="benchmark", unit="fit")
    for fold_no in folds:
        fold = load_fold(data_dir, fold_no)
        for spec in specs:
            bar.set_postfix_str(f"u{fold_no} {spec.name}")
            row = _fit_and_score(spec, fold, k)
            per_fold[spec.name].append(row)
            if echo is not None:
                echo(f"u{fold_no} {spec.name}: " + ", ".join(f"{m}={v:.4f}" for m, v in row.items()))
            bar.update(1)
    bar.close()
    return per_fold


def _fit_and_score(spec: ModelSpec, fold: FoldData, k: int) -> dict[str, float]:
    """A fresh model fitted on the fold's training data, scored on the tasks of its spec."""
    model = spec.factory()
    started = time.perf_counter()
    model.fit(fold.train, users=fold.users, items=fold.items)
    row: dict[str, float] = {"fit_seconds": time.perf_counter() - started}
    if RATING in spec.tasks:
        row.update(evaluate_rating(model, fold.test))
    if RANKING in spec.tasks:
        row.update(evaluate_ranking(model, fold, k))
    return row


def _summarise(per_fold: dict[str, list[dict[str, float]]], specs: dict[str, ModelSpec], folds: list[int],
               k: int) -> dict[str, Any]:
    """Mean metrics over the folds per model, peers and ours listed apart, with each model's parameters."""
    result: dict[str, Any] = {"models": {}, "peers": [], "ours": [], "folds": folds, "k": k, "extra_metrics": {},
                              "params": {}}
    key = f"_at_{k}"
    for name, rows in per_fold.items():
        mean = {m: float(np.mean([r[m] for r in rows])) for m in rows[0]}
        result["models"][name] = {
            "rmse": mean.get("rmse"),
            "mae": mean.get("mae"),
            "precision_at_10": mean.get(f"precision{key}"),
            "recall_at_10": mean.get(f"recall{key}"),
            "ndcg_at_10": mean.get(f"ndcg{key}"),
            "fit_seconds": mean["fit_seconds"],
        }
        result["extra_metrics"][name] = {
            m: v for m, v in mean.items() if m.startswith(("map", "catalogue_coverage"))
        }
        result["params"][name] = _jsonable(specs[name].factory().get_params())
        (result["peers"] if specs[name].peer else result["ours"]).append(name)
    return result


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in params.items():
        if isinstance(value, (int, float, str, bool)) or value is None:
            out[key] = value
        elif isinstance(value, (list, tuple)):
            out[key] = [v if isinstance(v, (int, float, str, bool)) else repr(v) for v in value]
        else:
            out[key] = repr(value)
    return out


def log_to_mlflow(result: dict[str, Any], tracking_uri: str, experiment: str = MLFLOW_EXPERIMENT) -> list[str]:
    """Log one MLflow run per model (params and mean metrics); returns the run ids."""
    import mlflow  # lazy: MLflow is heavy and only this optional step needs it

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment)
    run_ids = []
    for name, metrics in result["models"].items():
        with mlflow.start_run(run_name=name) as run:
            mlflow.set_tags({"model": name, "role": "peer" if name in result["peers"] else "ours",
                             "folds": ",".join(map(str, result["folds"]))})
            params = {k: str(v)[:6000] for k, v in result.get("params", {}).get(name, {}).items()}
            if params:
                mlflow.log_params(params)
            values = {m: v for m, v in metrics.items() if v is not None}
            values.update({m: v for m, v in result.get("extra_metrics", {}).get(name, {}).items() if v is not None})
            mlflow.log_metrics(values)
            run_ids.append(run.info.run_id)
    return run_ids


def format_table(result: dict[str, Any]) -> str:
    """A fixed-width table of the mean metrics, peers marked."""
    header = f"{'model':<26}{'role':<6}{'RMSE':>8}{'MAE':>8}{'P@10':>8}{'R@10':>8}{'NDCG@10':>9}{'fit s':>9}"
    lines = [header, "-" * len(header)]

    def cell(v: float | None, width: int, digits: int = 4) -> str:
        return f"{'-':>{width}}" if v is None else f"{v:>{width}.{digits}f}"

    for name, m in result["models"].items():
        role = "peer" if name in result["peers"] else "ours"
        lines.append(
            f"{name:<26}{role:<6}{cell(m['rmse'], 8)}{cell(m['mae'], 8)}{cell(m['precision_at_10'], 8)}"
            f"{cell(m['recall_at_10'], 8)}{cell(m['ndcg_at_10'], 9)}{cell(m['fit_seconds'], 9, 1)}"
        )
    lines.append(f"folds: {', '.join(f'u{f}' for f in result['folds'])}; fit s = mean seconds per fold")
    return "\n".join(lines)
