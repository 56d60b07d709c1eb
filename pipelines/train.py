"""Flow `train`: point-in-time training data from Feast, every model family fitted, evaluated and logged to MLflow.

Each family is fitted on the data before the hold-out cut-off and evaluated on the hold-out (the
metrics logged), then refitted on all the data (train + hold-out, features as of the newest
interaction): that refitted model is the one logged and registered, so the newest bookings reach
the served model.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.cache_policies import INPUTS, TASK_SOURCE
from prefect.futures import as_completed
from tqdm.auto import tqdm

from features.store import historical_features, make_store
from pipelines.common import IO_RETRIES, IO_RETRY_DELAY_SECONDS, MODEL_NAME, pipeline_dir, result_storage_dir
from pipelines import modelling
from pipelines.offline import load_events, load_records, offline_dir
from pipelines.tracking import client, log_candidate


@task(retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAY_SECONDS, cache_policy=INPUTS + TASK_SOURCE,
      persist_result=True)
def build_training_data(var_dir: str, online_store: str, redis_url: str, data_version: str,
                        holdout_fraction: float = 0.2) -> dict:
    """Time-based split and point-in-time-correct features from Feast, written as Parquet; returns their paths."""
    from features.definitions import (  # lazy: feast, only in the task that reads the feature store
        LEARNER_FEATURES, MENTOR_ACTIVITY, MENTOR_PROFILE, RANKING_SERVICE, feature_refs,
    )

    labels = pd.read_parquet(offline_dir(var_dir) / "interactions.parquet")
    cutoff = modelling.time_split(labels, holdout_fraction)
    train, holdout = labels[labels["event_timestamp"] < cutoff], labels[labels["event_timestamp"] >= cutoff]
    store = make_store(var_dir, online_store, redis_url)
    entity_df = train[["learner_id", "mentor_id", "event_timestamp"]].drop_duplicates().reset_index(drop=True)
    service = store.get_feature_service(RANKING_SERVICE)
    training_frame = historical_features(store, entity_df, service)

    data_dir = Path(var_dir) / "feast" / "data"
    learners = pd.read_parquet(data_dir / "learner_features.parquet", columns=["learner_id"])["learner_id"].unique()
    mentors = pd.read_parquet(data_dir / "mentor_profile.parquet", columns=["mentor_id"])["mentor_id"].unique()
    at_cutoff = lambda key, ids: pd.DataFrame({key: sorted(int(i) for i in ids), "event_timestamp": cutoff})  # noqa: E731
    learner_frame = historical_features(store, at_cutoff("learner_id", learners), feature_refs(LEARNER_FEATURES))
    mentor_frame = historical_features(store, at_cutoff("mentor_id", mentors),
                                       feature_refs(MENTOR_ACTIVITY) + feature_refs(MENTOR_PROFILE))
    # the refit on all data sees the side features as of its newest interaction
    trained_until = modelling.trained_until(labels)
    at_end = lambda key, ids: pd.DataFrame({key: sorted(int(i) for i in ids), "event_timestamp": trained_until})  # noqa: E731
    learner_frame_all = historical_features(store, at_end("learner_id", learners), feature_refs(LEARNER_FEATURES))
    mentor_frame_all = historical_features(store, at_end("mentor_id", mentors),
                                           feature_refs(MENTOR_ACTIVITY) + feature_refs(MENTOR_PROFILE))

    # learning to rank: profile fields the feature views do not carry (time zones, weekly hours, languages, prices
    # in one currency) and what learners were shown (exposures and search results: the negatives when not booked)
    records = load_records(var_dir)
    shown = modelling.exposures(load_events(var_dir, ["occurred_at", "event_type", "user_id", "payload"]))
    learner_profiles = modelling.learner_profiles(records, cutoff)
    mentor_profiles = modelling.mentor_profiles(records, cutoff)
    learner_profiles_all = modelling.learner_profiles(records, trained_until)
    mentor_profiles_all = modelling.mentor_profiles(records, trained_until)

    out = pipeline_dir(var_dir) / "datasets" / data_version
    out.mkdir(parents=True, exist_ok=True)
    frames = {
        "train_ranking": modelling.ranking_interactions(train),
        "train_ratings": modelling.rating_interactions(train),
        "holdout": holdout.reset_index(drop=True),
        "users": modelling.users_frame(learner_frame, learner_profiles),
        "items": modelling.items_frame(mentor_frame, mentor_profiles),
        "train_exposures": modelling.exposure_interactions(shown[shown["event_timestamp"] < cutoff]),
        "all_exposures": modelling.exposure_interactions(shown),
        "training_frame": training_frame,
        "all_ranking": modelling.ranking_interactions(labels),
        "all_ratings": modelling.rating_interactions(labels),
        "users_all": modelling.users_frame(learner_frame_all, learner_profiles_all),
        "items_all": modelling.items_frame(mentor_frame_all, mentor_profiles_all),
    }
    paths = {}
    for name, frame in frames.items():
        frame.to_parquet(out / f"{name}.parquet", index=False)
        paths[name] = str(out / f"{name}.parquet")
    rows = {name: len(frame) for name, frame in frames.items()}
    get_run_logger().info("training data (cut-off %s, refit until %s): %s", cutoff.isoformat(),
                          trained_until.isoformat(), ", ".join(f"{k}={v}" for k, v in rows.items()))
    return {"paths": paths, "cutoff": cutoff.isoformat(), "trained_until": trained_until.isoformat(),
            "holdout_fraction": holdout_fraction,
            "data_version": data_version, "rows": rows, "feature_refs": [f"{p.name}:{f.name}"
            for p in service.feature_view_projections for f in p.features],
            "training_columns": list(training_frame.columns)}


@task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
def train_family(family: str, dataset: dict) -> dict:
    """Fit one family before the cut-off, evaluate it on the hold-out, refit it on all data; the refit is pickled."""
    from models.mlflow_wrapper import save_recommender  # lazy: mlflow

    data = modelling.load_dataset(dataset["paths"])
    trained = modelling.fit_evaluate_refit(family, data)
    path = Path(dataset["paths"]["train_ranking"]).parent / "models" / f"{family}.pkl"
    save_recommender(trained["model"], path)
    m = trained["metrics"]
    get_run_logger().info("%s: P@10=%.4f NDCG@10=%.4f coverage=%.3f%s (fit %.1fs; refit on all data until %s: %.1fs)",
                          family, m.get("precision_at_10", float("nan")), m.get("ndcg_at_10", float("nan")),
                          m.get("coverage_at_10", float("nan")), f" RMSE={m['rmse']:.4f}" if "rmse" in m else "",
                          trained["fit_seconds"], dataset.get("trained_until", "?"), trained["refit_seconds"])
    return {"family": family, "model_path": str(path), "metrics": m, "fit_seconds": trained["fit_seconds"],
            "refit_seconds": trained["refit_seconds"], "refit_rows": trained["refit_rows"],
            "precision_curve": trained["precision_curve"], "trains_on": modelling.family(family).trains_on,
            "params": {k: repr(v) for k, v in trained["model"].get_params().items()}}


@task(retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAY_SECONDS, cache_policy=INPUTS + TASK_SOURCE,
      persist_result=True)
def log_to_mlflow(candidate: dict, dataset: dict, mlflow_uri: str, artifact_root: str, chart_path: str) -> dict:
    """Log one candidate as an MLflow run (hold-out metrics) and register its model refitted on all data."""
    logged = log_candidate(candidate, dataset, mlflow_uri, artifact_root, chart_path)
    # say what was registered: the hold-out metrics belong to the fit before the cut-off, the model to the refit
    c, until = client(mlflow_uri), dataset["trained_until"]
    refit = {"registered_model_fit": "all_data", "trained_until": until,
             "refit_rows": str(candidate.get("refit_rows", "")), "metrics_from": f"holdout_after_{dataset['cutoff']}"}
    for key, value in refit.items():
        c.log_param(logged["run_id"], key, value)
        c.set_tag(logged["run_id"], key, value)
        c.set_model_version_tag(MODEL_NAME, logged["version"], key, value)
    c.log_metric(logged["run_id"], "refit_seconds", float(candidate.get("refit_seconds", 0.0)))
    get_run_logger().info("%s logged: run %s, %s version %s", candidate["family"], logged["run_id"], MODEL_NAME,
                          logged["version"])
    return logged


@task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
def draw_precision_chart(curves: dict, path: str) -> str:
    """The precision-at-k chart of every family (a PNG logged with each run)."""
    return str(modelling.precision_chart(curves, Path(path)))


@flow(name="train", log_prints=True)
def train(var_dir: str, mlflow_uri: str, data_version: str, online_store: str = "sqlite", redis_url: str = "",
          families: list[str] | None = None, holdout_fraction: float = 0.2, progress: bool = True) -> dict:
    """Build the training data, fit every family (in parallel on the flow's task runner), log and register each."""
    var_dir = str(Path(var_dir).resolve())
    storage = result_storage_dir(var_dir)
    families = list(families or modelling.FAMILY_NAMES)
    dataset = build_training_data.with_options(result_storage=storage)(
        var_dir, online_store, redis_url, data_version, holdout_fraction)
    fit = train_family.with_options(result_storage=storage)
    futures = [fit.submit(name, dataset) for name in families]
    candidates = {}
    # disable=None: off when not writing to a terminal (no mangled bars in logs and piped output)
    with tqdm(total=len(futures), desc="train families", unit="model", disable=None if progress else True) as bar:
        for future in as_completed(futures):
            result = future.result()
            candidates[result["family"]] = result
            bar.set_postfix_str(result["family"])
            bar.update()
    chart = draw_precision_chart.with_options(result_storage=storage)(
        {name: candidates[name]["precision_curve"] for name in families},
        str(Path(dataset["paths"]["train_ranking"]).parent / "precision_at_k.png"))
    log = log_to_mlflow.with_options(result_storage=storage)
    artifact_root = str(Path(var_dir) / "mlartifacts")
    logged = [log(candidates[name], dataset, mlflow_uri, artifact_root, chart) for name in families]
    get_run_logger().info("trained and registered %d candidates on data version %s", len(logged), data_version)
    return {"data_version": data_version, "cutoff": dataset["cutoff"], "candidates": logged}
