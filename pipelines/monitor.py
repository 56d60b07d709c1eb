"""Flow `monitor`: Evidently reports (feature drift, prediction drift, recommendation quality over time).

Each report is written as HTML and JSON to var_dir/reports/<kind>-<UTC stamp>.{html,json};
reports/index.json lists the newest file of each kind for the admin panel.
"""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from pipelines.common import IO_RETRIES, IO_RETRY_DELAY_SECONDS, MODEL_NAME, read_json, reports_dir, write_json
from pipelines.offline import load_events, utc_stamp
from pipelines.tracking import client

FEATURE_VIEWS = {"learner_features": "learner_id", "mentor_activity": "mentor_id"}
DROP_COLUMNS = {"event_timestamp", "created", "learner_id", "mentor_id", "interests_text", "text"}
SAMPLE_LEARNERS = 500


def _save(snapshot, var_dir: str, kind: str, stamp: str, extra: dict | None = None) -> dict:
    folder = reports_dir(var_dir)
    folder.mkdir(parents=True, exist_ok=True)
    html, js = folder / f"{kind}-{stamp}.html", folder / f"{kind}-{stamp}.json"
    snapshot.save_html(str(html))
    snapshot.save_json(str(js))
    entry = {"kind": kind, "html": str(html), "json": str(js), "created": stamp, **(extra or {})}
    index = read_json(folder / "index.json", {})
    index[kind] = entry
    write_json(folder / "index.json", index)
    return entry


def _as_of(table: pd.DataFrame, key: str, when: pd.Timestamp) -> pd.DataFrame:
    past = table[table["event_timestamp"] <= when]
    return past.sort_values("event_timestamp").drop_duplicates(key, keep="last")


def _columns(frame: pd.DataFrame) -> pd.DataFrame:
    keep = [c for c in frame.columns if c not in DROP_COLUMNS]
    return frame[keep].reset_index(drop=True)


@task(retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAY_SECONDS, cache_policy=NO_CACHE)
def feature_drift_report(var_dir: str, stamp: str) -> list[dict]:
    """Drift of learner and mentor features: the current snapshot against the previous one (else 30 days ago)."""
    from evidently import Report
    from evidently.presets import DataDriftPreset

    history = sorted((Path(var_dir) / "feast" / "history").glob("*"))
    data_dir = Path(var_dir) / "feast" / "data"
    entries = []
    for view, key in FEATURE_VIEWS.items():
        table = pd.read_parquet(data_dir / f"{view}.parquet")
        if history and (history[-1] / f"{view}.parquet").is_file():
            current = pd.read_parquet(history[-1] / f"{view}.parquet")
        else:
            current = _as_of(table, key, table["event_timestamp"].max())
        if len(history) > 1 and (history[-2] / f"{view}.parquet").is_file():
            reference, basis = pd.read_parquet(history[-2] / f"{view}.parquet"), "previous snapshot"
        else:
            reference = _as_of(table, key, table["event_timestamp"].max() - timedelta(days=30))
            basis = "30 days earlier"
        if reference.empty or current.empty:
            get_run_logger().info("feature drift of %s skipped: no reference rows", view)
            continue
        snapshot = Report([DataDriftPreset()]).run(current_data=_columns(current), reference_data=_columns(reference))
        entries.append(_save(snapshot, var_dir, f"feature-drift-{view}", stamp, {"reference": basis}))
        get_run_logger().info("feature drift of %s (%d vs %d rows, reference: %s) -> %s", view, len(current),
                              len(reference), basis, entries[-1]["html"])
    return entries


def _predictions(mlflow_uri: str, alias: str, learners: list[int]) -> pd.DataFrame | None:
    from models.mlflow_wrapper import load_model  # lazy: mlflow

    client(mlflow_uri)
    try:
        model = load_model(f"models:/{MODEL_NAME}@{alias}")
    except Exception:  # noqa: BLE001 - no such alias yet
        return None
    frame = model.predict(pd.DataFrame({"learner_id": learners, "k": 10}))
    return frame.assign(mentor_id=frame["mentor_id"].astype(str))


@task(retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAY_SECONDS, cache_policy=NO_CACHE)
def prediction_drift_report(var_dir: str, mlflow_uri: str, stamp: str) -> dict | None:
    """Drift of the champion's recommendations (score, rank, mentors) against the previous monitor run's."""
    from evidently import Report
    from evidently.presets import DataDriftPreset

    learners = pd.read_parquet(Path(var_dir) / "feast" / "data" / "learner_features.parquet", columns=["learner_id"])
    ids = np.unique(learners["learner_id"].to_numpy())
    rng = np.random.default_rng(0)
    sample = sorted(int(i) for i in rng.choice(ids, size=min(SAMPLE_LEARNERS, len(ids)), replace=False))
    current = _predictions(mlflow_uri, "champion", sample)
    if current is None:
        get_run_logger().info("prediction drift skipped: no champion yet")
        return None
    saved = reports_dir(var_dir) / "predictions"
    previous = sorted(saved.glob("*.parquet"))
    if previous:
        reference, basis = pd.read_parquet(previous[-1]), "previous monitor run"
    else:
        reference, basis = _predictions(mlflow_uri, "challenger", sample), "challenger"
    saved.mkdir(parents=True, exist_ok=True)
    current.to_parquet(saved / f"{stamp}.parquet", index=False)
    cols = ["rank", "mentor_id", "score"]
    snapshot = Report([DataDriftPreset()]).run(current_data=current[cols], reference_data=reference[cols])
    entry = _save(snapshot, var_dir, "prediction-drift", stamp, {"reference": basis})
    get_run_logger().info("prediction drift (reference: %s) -> %s", basis, entry["html"])
    return entry


def weekly_quality(var_dir: str) -> pd.DataFrame:
    """Per week: searches, views, booking requests, conversion, ratings, and click/booking rate per exposure."""
    events = load_events(var_dir, ["occurred_at", "event_type"])
    labels = pd.read_parquet(Path(var_dir) / "feast" / "offline" / "interactions.parquet")
    week = lambda ts: pd.to_datetime(ts, utc=True).dt.tz_localize(None).dt.to_period("W").dt.start_time  # noqa: E731
    counts = events.assign(week=week(events["occurred_at"])).pivot_table(
        index="week", columns="event_type", aggfunc="size", fill_value=0)
    for c in ("search", "profile_view", "booking_request", "exposure", "click", "rating"):
        if c not in counts.columns:
            counts[c] = 0
    ratings = labels.dropna(subset=["rating"]).assign(week=week(labels.dropna(subset=["rating"])["event_timestamp"]))
    out = pd.DataFrame({
        "searches": counts["search"], "views": counts["profile_view"], "booking_requests": counts["booking_request"],
        "exposures": counts["exposure"], "clicks": counts["click"],
    }).astype(float)
    out["bookings_per_search"] = out["booking_requests"] / out["searches"].where(out["searches"] > 0)
    out["views_per_search"] = out["views"] / out["searches"].where(out["searches"] > 0)
    out["clicks_per_exposure"] = out["clicks"] / out["exposures"].where(out["exposures"] > 0)
    out["average_rating"] = ratings.groupby("week")["rating"].mean()
    return out.reset_index().rename(columns={"index": "week"})


@task(retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAY_SECONDS, cache_policy=NO_CACHE)
def quality_report(var_dir: str, mlflow_uri: str, stamp: str) -> dict | None:
    """Recommendation quality over time: weekly funnel rates (recent half against the earlier half) and model metrics."""
    from evidently import Report
    from evidently.presets import DataSummaryPreset

    table = weekly_quality(var_dir)
    if len(table) < 2:
        get_run_logger().info("quality report skipped: fewer than two weeks of events")
        return None
    half = len(table) // 2
    numeric = table.drop(columns=["week"])
    snapshot = Report([DataSummaryPreset()]).run(current_data=numeric.iloc[half:].reset_index(drop=True),
                                                 reference_data=numeric.iloc[:half].reset_index(drop=True))
    c = client(mlflow_uri)
    models = [{"version": v.version, "family": v.tags.get("family"), "created": v.creation_timestamp,
               "aliases": list(getattr(v, "aliases", []) or []),
               **{k: float(v.tags[k]) for k in ("precision_at_10", "ndcg_at_10", "recall_at_10", "coverage_at_10")
                  if k in v.tags}}
              for v in c.search_model_versions(f"name='{MODEL_NAME}'")]
    entry = _save(snapshot, var_dir, "recommendation-quality", stamp)
    write_json(Path(entry["json"]).with_name(f"recommendation-quality-{stamp}.timeseries.json"),
               {"weekly": table.assign(week=table["week"].astype(str)).replace({np.nan: None}).to_dict("records"),
                "model_versions": sorted(models, key=lambda m: int(m["version"]))})
    get_run_logger().info("recommendation quality over %d weeks -> %s", len(table), entry["html"])
    return entry


@flow(name="monitor", log_prints=True)
def monitor(var_dir: str, mlflow_uri: str) -> dict:
    """Write the feature drift, prediction drift and recommendation quality reports under var_dir/reports."""
    var_dir = str(Path(var_dir).resolve())
    stamp = utc_stamp()
    features = feature_drift_report(var_dir, stamp)
    predictions = prediction_drift_report(var_dir, mlflow_uri, stamp)
    quality = quality_report(var_dir, mlflow_uri, stamp)
    return {"feature_drift": features, "prediction_drift": predictions, "quality": quality,
            "index": str(reports_dir(var_dir) / "index.json")}
