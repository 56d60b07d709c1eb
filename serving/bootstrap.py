"""Train one recommender straight from interaction frames and register it as champion (benchmarks, first start).

The scheduled pipeline (`pipelines.all`: Feast features, every family, hold-out evaluation) is the
normal way models reach the registry; this is the short path for a benchmark world that has no
event history, or a fresh install that wants a model before the first pipeline run.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from models.aliases import CHALLENGER, CHAMPION, move_alias
from models.families import build
from serving.registry import MODEL_NAME

# The families this short path trains, with its own (quick) hyperparameters; constructors from models.families.
BOOTSTRAP_PARAMS: dict[str, dict] = {
    "svd": {"n_factors": 32, "n_epochs": 15},
    "popularity": {},
    "content-tfidf": {"min_df": 1},
}


def fit(family: str, interactions: pd.DataFrame, items: pd.DataFrame | None = None):
    """Fit `family` (svd | popularity | content-tfidf) on (user_id, item_id, rating, timestamp) interactions."""
    if family not in BOOTSTRAP_PARAMS:
        raise ValueError(f"unknown family {family!r}")
    return build(family, **BOOTSTRAP_PARAMS[family]).fit(interactions, items=items)


def register(model, family: str, tracking_uri: str, artifact_dir: Path, model_name: str = MODEL_NAME,
             aliases: tuple[str, ...] = (CHAMPION, CHALLENGER), data_version: str = "bootstrap") -> str:
    """Log the fitted model as a pyfunc under `model_name`, tag it and point `aliases` at it; returns the version."""
    import mlflow  # lazy: MLflow is heavy and only registering needs it
    from mlflow import MlflowClient  # lazy: as above

    from models.mlflow_wrapper import log_recommender, save_recommender  # lazy: imports MLflow

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    experiment = client.get_experiment_by_name("mentorhub-serving-bootstrap")
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(
        "mentorhub-serving-bootstrap", artifact_location=Path(artifact_dir).resolve().as_uri())
    with tempfile.TemporaryDirectory() as tmp, mlflow.start_run(experiment_id=experiment_id, run_name=family) as run:
        path = save_recommender(model, Path(tmp) / f"{family}.pkl")
        mlflow.set_tags({"family": family, "pipeline": "serving-bootstrap"})
        log_recommender(path, family, registered_model_name=model_name)
    versions = client.search_model_versions(f"name='{model_name}' and run_id='{run.info.run_id}'")
    version = str(max(int(v.version) for v in versions))
    client.set_model_version_tag(model_name, version, "family", family)
    client.set_model_version_tag(model_name, version, "data_version", data_version)
    for alias in aliases:
        move_alias(client, alias, version, model_name)
    return version
