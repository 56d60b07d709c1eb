"""Evaluation metrics as pure functions; each raises ``ValueError`` on empty input."""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence

import numpy as np


def _pair(y_true: Sequence[float], y_pred: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(y_pred, dtype=np.float64).ravel()
    if t.size == 0:
        raise ValueError("empty input")
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in length: {t.size} != {p.size}")
    return t, p


def rmse(y_true: Sequence[float], y_pred: Sequence[float]) -> float:
    """Root mean squared error."""
    t, p = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((t - p) ** 2)))


def mae(y_true: Sequence[float], y_pred: Sequence[float]) -> float:
    """Mean absolute error."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))


def _check_k(k: int) -> None:
    if k <= 0:
        raise ValueError("k must be positive")


def _hits(recommended: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> np.ndarray:
    rel = set(relevant)
    return np.array([item in rel for item in list(recommended)[:k]], dtype=np.float64)


def precision_at_k(recommended: Sequence[Hashable], relevant: Collection[Hashable], k: int = 10) -> float:
    """Share of the top-k recommendations that are relevant (denominator k)."""
    _check_k(k)
    if len(recommended) == 0:
        raise ValueError("empty recommendation list")
    return float(_hits(recommended, relevant, k).sum() / k)


def recall_at_k(recommended: Sequence[Hashable], relevant: Collection[Hashable], k: int = 10) -> float:
    """Share of the relevant items found in the top-k recommendations."""
    _check_k(k)
    if len(relevant) == 0:
        raise ValueError("empty relevant set")
    return float(_hits(recommended, relevant, k).sum() / len(set(relevant)))


def ndcg_at_k(recommended: Sequence[Hashable], relevant: Collection[Hashable], k: int = 10) -> float:
    """Binary-relevance NDCG@k: DCG of the list over the DCG of a perfect list."""
    _check_k(k)
    if len(relevant) == 0:
        raise ValueError("empty relevant set")
    hits = _hits(recommended, relevant, k)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = float((hits * discounts[: hits.size]).sum())
    idcg = float(discounts[: min(k, len(set(relevant)))].sum())
    return dcg / idcg


def map_at_k(recommended: Sequence[Hashable], relevant: Collection[Hashable], k: int = 10) -> float:
    """Average precision at k, normalised by min(k, number of relevant items)."""
    _check_k(k)
    if len(relevant) == 0:
        raise ValueError("empty relevant set")
    hits = _hits(recommended, relevant, k)
    if hits.sum() == 0:
        return 0.0
    precisions = np.cumsum(hits) / np.arange(1, hits.size + 1)
    return float((precisions * hits).sum() / min(k, len(set(relevant))))


def catalogue_coverage(recommendations: Iterable[Sequence[Hashable]], catalogue: Collection[Hashable]) -> float:
    """Share of the catalogue that appears in at least one recommendation list."""
    if len(catalogue) == 0:
        raise ValueError("empty catalogue")
    lists = list(recommendations)
    if not lists:
        raise ValueError("no recommendation lists")
    shown = set().union(*map(set, lists)) & set(catalogue)
    return len(shown) / len(set(catalogue))


def mean_ranking_metrics(
    recommendations: Mapping[Hashable, Sequence[Hashable]],
    relevant: Mapping[Hashable, Collection[Hashable]],
    k: int = 10,
) -> dict[str, float]:
    """Precision, recall, NDCG and MAP at k averaged over users with at least one relevant item."""
    users = [u for u, rel in relevant.items() if len(rel) > 0]
    if not users:
        raise ValueError("no user has a relevant item")
    out = {"precision": [], "recall": [], "ndcg": [], "map": []}
    for u in users:
        recs = list(recommendations.get(u, []))
        rel = relevant[u]
        out["precision"].append(_hits(recs, rel, k).sum() / k)
        out["recall"].append(recall_at_k(recs, rel, k) if recs else 0.0)
        out["ndcg"].append(ndcg_at_k(recs, rel, k) if recs else 0.0)
        out["map"].append(map_at_k(recs, rel, k) if recs else 0.0)
    return {f"{name}_at_{k}": float(np.mean(vals)) for name, vals in out.items()}
