"""Hyperparameter tuning on a validation split carved out of a training fold (never the .test file)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.base import Recommender
from models.constants import SEED

from experiments.recsys_benchmark import FoldData, evaluate_ranking, evaluate_rating, load_fold


def validation_split(train: pd.DataFrame, fraction: float = 0.2, seed: int = SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Random split of the ratings (like the u1..u5 folds themselves) into inner train and validation."""
    if not 0.0 < fraction < 1.0:
        raise ValueError("fraction must be in (0, 1)")
    rng = np.random.default_rng(seed)
    mask = rng.random(len(train)) < fraction
    return train[~mask].reset_index(drop=True), train[mask].reset_index(drop=True)


def validation_fold(data_dir: str | Path, fold: int = 1, fraction: float = 0.2, seed: int = SEED) -> FoldData:
    """A FoldData whose 'test' is a slice of uN.base, for tuning."""
    full = load_fold(data_dir, fold)
    inner, valid = validation_split(full.train, fraction, seed)
    return FoldData(inner, valid, full.users, full.items, full.catalogue)


def grid_search(
    fold: FoldData,
    factory: Callable[..., Recommender],
    grid: Iterable[dict[str, Any]],
    task: str = "ranking",
) -> list[tuple[dict[str, Any], dict[str, float]]]:
    """Evaluate each parameter set on the validation fold; returns (params, metrics) pairs."""
    out = []
    for params in grid:
        model = factory(**params).fit(fold.train, users=fold.users, items=fold.items)
        metrics = evaluate_ranking(model, fold) if task == "ranking" else evaluate_rating(model, fold.test)
        out.append((params, metrics))
    return out
