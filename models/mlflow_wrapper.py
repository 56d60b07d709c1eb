"""The mlflow.pyfunc wrapper of every recommender (imported on demand: models/__init__ never imports it).

`predict` takes a DataFrame with `learner_id` and, optionally, `mentor_ids` (a list of candidate
mentor ids per row; missing or empty means the whole catalogue) and `k` (default 10), and returns
one row per recommended mentor: learner_id, rank (1-based), mentor_id, score.
"""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from models.base import Recommender
from models.constants import DEFAULT_K

ARTIFACT_KEY = "recommender"
OUTPUT_COLUMNS = ["learner_id", "rank", "mentor_id", "score"]
# What the wrapped models need; given explicitly so MLflow does not spend seconds inferring it.
PIP_REQUIREMENTS = ["mlflow", "numpy", "pandas", "scipy", "scikit-learn", "scikit-surprise", "torch", "lightgbm"]


def save_recommender(model: Recommender, path: str | Path) -> Path:
    """Pickle a fitted recommender (the artifact the wrapper loads)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        pickle.dump(model, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def load_recommender(path: str | Path) -> Recommender:
    """Unpickle a recommender saved by `save_recommender`."""
    with Path(path).open("rb") as handle:
        return pickle.load(handle)


def _candidates(value: Any) -> list | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    values = list(value)
    return values or None


def recommend_frame(model: Recommender, model_input: pd.DataFrame, default_k: int = DEFAULT_K) -> pd.DataFrame:
    """Ranked mentors and scores for each row of `model_input` (see the module docstring)."""
    if "learner_id" not in model_input.columns:
        raise ValueError("model input needs a learner_id column")
    rows = []
    for record in model_input.to_dict("records"):
        k = record.get("k")
        k = int(k) if k is not None and not (isinstance(k, float) and np.isnan(k)) else default_k
        learner = record["learner_id"]
        learner = int(learner) if isinstance(learner, (np.integer, float)) else learner
        candidates = _candidates(record.get("mentor_ids"))
        if candidates is not None:
            candidates = [int(c) if isinstance(c, (np.integer, float)) else c for c in candidates]
        ranked = model.recommend(learner, k=k, items=candidates, exclude_seen=candidates is None)
        rows.extend((learner, rank, mentor, score) for rank, (mentor, score) in enumerate(ranked, start=1))
    frame = pd.DataFrame(rows, columns=OUTPUT_COLUMNS)
    return frame.astype({"rank": np.int64, "score": np.float64})


class RecommenderModel(mlflow.pyfunc.PythonModel):
    """A fitted recommender behind MLflow's pyfunc interface; loaded once per process."""

    def __init__(self, family: str = "", default_k: int = DEFAULT_K):
        self.family = family
        self.default_k = default_k
        self.model: Recommender | None = None

    def load_context(self, context) -> None:
        self.model = load_recommender(context.artifacts[ARTIFACT_KEY])

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        if self.model is None:
            self.load_context(context)
        default_k = int((params or {}).get("k", self.default_k))
        return recommend_frame(self.model, pd.DataFrame(model_input), default_k)


def log_recommender(model_path: str | Path, family: str, registered_model_name: str | None = None,
                    name: str = "model"):
    """Log the pickled recommender at `model_path` as a pyfunc model in the active run (and register it)."""
    return mlflow.pyfunc.log_model(
        name=name,
        python_model=RecommenderModel(family=family),
        artifacts={ARTIFACT_KEY: str(model_path)},
        registered_model_name=registered_model_name,
        pip_requirements=PIP_REQUIREMENTS,
    )


def load_model(model_uri: str):
    """Load a logged recommender as a pyfunc model (e.g. models:/<REGISTERED_MODEL_NAME>@champion; the name is in models.constants)."""
    return mlflow.pyfunc.load_model(model_uri)
