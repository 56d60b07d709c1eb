"""Flow `ingest`: export new events and changed records, compute features, apply Feast, materialise online."""
from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import INPUTS, NO_CACHE, TASK_SOURCE

from features.compute import compute_all, latest
from features.store import apply_definitions, feature_data_dir, make_store
from models import clock
from pipelines.common import IO_RETRIES, IO_RETRY_DELAY_SECONDS, result_storage_dir
from pipelines import offline

FEATURE_VIEWS = ("learner_features", "mentor_activity", "mentor_profile", "learner_mentor")
HISTORY_KEYS = {"learner_features": ["learner_id"], "mentor_activity": ["mentor_id"],
                "mentor_profile": ["mentor_id"]}


@task(retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAY_SECONDS, cache_policy=NO_CACHE)
def export_new_events(database_url: str, var_dir: str, batch_size: int = 100_000) -> dict:
    """Append the events after the watermark to the offline store (idempotent: the watermark moves with the data)."""
    result = offline.export_events(database_url, var_dir, batch_size)
    get_run_logger().info("exported %d new events (watermark: event id %d)", result["exported"],
                          result["last_event_id"])
    return result


@task(retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAY_SECONDS, cache_policy=NO_CACHE)
def snapshot_changed_records(database_url: str, var_dir: str) -> dict:
    """Snapshot mentors, learners, topics, bookings and reviews when they changed."""
    result = offline.snapshot_records(database_url, var_dir)
    get_run_logger().info("record snapshots written: %s", ", ".join(result["written"]) or "none (unchanged)")
    return result


@task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
def compute_feature_tables(var_dir: str, data_version: str) -> dict:
    """Compute the point-in-time feature tables and interaction labels for one data version."""
    events = offline.load_events(var_dir, ["id", "occurred_at", "event_type", "user_id", "mentor_id", "booking_id"])
    tables = compute_all(offline.load_records(var_dir), events)
    data_dir = feature_data_dir(var_dir)
    paths = {}
    for name in FEATURE_VIEWS:
        paths[name] = str(offline.write_table(tables[name], data_dir / f"{name}.parquet"))
    paths["interactions"] = str(offline.write_table(tables["interactions"],
                                                    offline.offline_dir(var_dir) / "interactions.parquet"))
    history = Path(var_dir) / "feast" / "history" / f"{offline.utc_stamp()}-{data_version}"
    for name, keys in HISTORY_KEYS.items():
        offline.write_table(latest(tables[name], keys), history / f"{name}.parquet")
    counts = {name: len(frame) for name, frame in tables.items()}
    get_run_logger().info("feature tables: %s", ", ".join(f"{k}={v}" for k, v in counts.items()))
    return {"paths": paths, "counts": counts, "history": str(history), "data_version": data_version}


@task(retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAY_SECONDS, cache_policy=INPUTS + TASK_SOURCE,
      persist_result=True)
def apply_feature_repo(var_dir: str, online_store: str, redis_url: str, data_version: str) -> list[str]:
    """`feast apply` the entities, views and service for the tables under var_dir."""
    views = apply_definitions(make_store(var_dir, online_store, redis_url), var_dir)
    get_run_logger().info("feast apply: %s", ", ".join(views))
    return views


@task(retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAY_SECONDS, cache_policy=INPUTS + TASK_SOURCE,
      persist_result=True)
def materialize_online(var_dir: str, online_store: str, redis_url: str, data_version: str) -> str:
    """Load new feature rows into the online store (Feast materialize_incremental up to now)."""
    end = clock.now()
    make_store(var_dir, online_store, redis_url).materialize_incremental(end_date=end)
    get_run_logger().info("materialised to the %s online store up to %s", online_store, end.isoformat())
    return end.isoformat()


@flow(name="ingest", log_prints=True)
def ingest(database_url: str, var_dir: str, online_store: str = "sqlite", redis_url: str = "",
           batch_size: int = 100_000) -> dict:
    """Export new events and changed records, compute features, apply the Feast repo, materialise online."""
    var_dir = str(Path(var_dir).resolve())
    storage = result_storage_dir(var_dir)
    events = export_new_events(database_url, var_dir, batch_size)
    records = snapshot_changed_records(database_url, var_dir)
    version = offline.data_version(var_dir)
    tables = compute_feature_tables.with_options(result_storage=storage)(var_dir, version)
    views = apply_feature_repo.with_options(result_storage=storage)(var_dir, online_store, redis_url, version)
    materialised = materialize_online.with_options(result_storage=storage)(var_dir, online_store, redis_url, version)
    return {"data_version": version, "exported_events": events["exported"], "last_event_id": events["last_event_id"],
            "records_written": records["written"], "feature_rows": tables["counts"], "views": views,
            "materialised_until": materialised, "history": tables["history"]}
