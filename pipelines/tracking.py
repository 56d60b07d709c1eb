"""MLflow bookkeeping for the flows: runs, registered versions and aliases (MLflow imported lazily)."""
from __future__ import annotations

from pathlib import Path

from models.aliases import CHALLENGER, CHAMPION, move_alias  # noqa: F401 - the flows read tracking.CHAMPION
from pipelines.common import EXPERIMENT_NAME, MODEL_NAME


def client(mlflow_uri: str):
    """An MlflowClient on the tracking (and registry) URI."""
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(mlflow_uri)
    mlflow.set_registry_uri(mlflow_uri)
    return MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)


def ensure_experiment(mlflow_uri: str, artifact_root: str | None = None, name: str = EXPERIMENT_NAME) -> str:
    """The experiment id, created (with artefacts under artifact_root) when missing."""
    c = client(mlflow_uri)
    experiment = c.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    return c.create_experiment(name, artifact_location=Path(artifact_root).resolve().as_uri() if artifact_root else None)


def log_candidate(candidate: dict, dataset: dict, mlflow_uri: str, artifact_root: str | None,
                  chart_path: str, model_name: str = MODEL_NAME) -> dict:
    """One MLflow run for a trained family: params, metrics, chart, pyfunc model, registered version with tags."""
    import mlflow

    from models.mlflow_wrapper import log_recommender  # lazy: mlflow

    experiment_id = ensure_experiment(mlflow_uri, artifact_root)
    c = client(mlflow_uri)
    family = candidate["family"]
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"{family}-{dataset['data_version'][:8]}") as run:
        mlflow.set_tags({"family": family, "data_version": dataset["data_version"], "pipeline": "train"})
        params = {f"model.{k}": str(v)[:250] for k, v in candidate["params"].items()}
        params.update({"family": family, "trains_on": candidate["trains_on"], "cutoff": dataset["cutoff"],
                       "holdout_fraction": dataset["holdout_fraction"], "data_version": dataset["data_version"],
                       **{f"rows.{k}": v for k, v in dataset["rows"].items()}})
        mlflow.log_params(params)
        metrics = {k: float(v) for k, v in candidate["metrics"].items()}
        metrics["fit_seconds"] = float(candidate["fit_seconds"])
        mlflow.log_metrics(metrics)
        for step, value in enumerate(candidate["precision_curve"], start=1):
            mlflow.log_metric("precision_at_k", value, step=step)
        mlflow.log_artifact(chart_path, artifact_path="charts")
        mlflow.log_dict({"features": dataset["feature_refs"], "training_frame_columns": dataset["training_columns"]},
                        "features.json")
        info = log_recommender(candidate["model_path"], family, registered_model_name=model_name)
    version = _version_of(c, model_name, run.info.run_id)
    tags = {"family": family, "data_version": dataset["data_version"],
            **{k: f"{v:.6f}" for k, v in metrics.items()}}
    for key, value in tags.items():
        c.set_model_version_tag(model_name, version, key, value)
    return {"family": family, "run_id": run.info.run_id, "version": version, "metrics": metrics,
            "model_uri": info.model_uri}


def _version_of(c, model_name: str, run_id: str) -> str:
    versions = c.search_model_versions(f"name='{model_name}' and run_id='{run_id}'")
    if not versions:
        raise RuntimeError(f"run {run_id} registered no version of {model_name}")
    return str(max(int(v.version) for v in versions))


def alias_version(mlflow_uri: str, alias: str, model_name: str = MODEL_NAME) -> str | None:
    """The version an alias points at, or None."""
    c = client(mlflow_uri)
    try:
        return str(c.get_model_version_by_alias(model_name, alias).version)
    except Exception:  # noqa: BLE001 - MLflow raises MlflowException (or RestException) for a missing alias
        return None


def set_alias(mlflow_uri: str, alias: str, version: str, model_name: str = MODEL_NAME) -> None:
    move_alias(client(mlflow_uri), alias, version, model_name)


def version_metrics(mlflow_uri: str, version: str, model_name: str = MODEL_NAME) -> dict:
    """The metrics stored as tags on a registered version."""
    mv = client(mlflow_uri).get_model_version(model_name, str(version))
    out = {}
    for key, value in mv.tags.items():
        try:
            out[key] = float(value)
        except ValueError:
            out[key] = value
    return out

