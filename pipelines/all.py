"""Flow `all`: ingest -> train -> promote -> monitor, resumable, optionally training on a Dask cluster.

Every task persists its result under var_dir/prefect/results with a cache key made of its inputs
and source, so a rerun after a failure skips the tasks that finished (ingest's export tasks are
idempotent through the watermark instead). `task_runner="dask"` trains the model families in
parallel on a local Dask cluster, or on the cluster at `dask_address`.
"""
from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger

from pipelines.ingest import ingest
from pipelines.monitor import monitor
from pipelines.promote import promote
from pipelines.train import train

TASK_RUNNERS = ("thread", "dask")


def make_task_runner(kind: str = "thread", dask_address: str = "", dask_workers: int = 2):
    """The task runner for training: Prefect's thread pool, or Dask (a local cluster unless an address is given)."""
    if kind == "thread":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=dask_workers)
    if kind == "dask":
        from prefect_dask import DaskTaskRunner

        if dask_address:
            return DaskTaskRunner(address=dask_address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": dask_workers, "threads_per_worker": 1,
                                              "processes": True, "dashboard_address": None})
    raise ValueError(f"unknown task runner {kind!r}: one of {', '.join(TASK_RUNNERS)}")


@flow(name="all", log_prints=True)
def run_all(database_url: str, var_dir: str, mlflow_uri: str, online_store: str = "sqlite", redis_url: str = "",
            task_runner: str = "thread", dask_address: str = "", dask_workers: int = 2,
            families: list[str] | None = None, holdout_fraction: float = 0.2, monitor_reports: bool = True) -> dict:
    """Ingest new data, train and register every family, promote the best, write the monitoring reports."""
    logger = get_run_logger()
    var_dir = str(Path(var_dir).resolve())
    ingested = ingest(database_url, var_dir, online_store, redis_url)
    logger.info("ingest done: %d new events, data version %s", ingested["exported_events"], ingested["data_version"])
    trainer = train.with_options(task_runner=make_task_runner(task_runner, dask_address, dask_workers))
    trained = trainer(var_dir, mlflow_uri, ingested["data_version"], online_store, redis_url, families,
                      holdout_fraction)
    promoted = promote(mlflow_uri, trained["candidates"])
    logger.info("promoted version %s (%s) to challenger%s", promoted["challenger"], promoted["family"],
                " and champion" if promoted["first_champion"] else "")
    reports = monitor(var_dir, mlflow_uri) if monitor_reports else None
    return {"ingest": ingested, "train": trained, "promote": promoted, "monitor": reports}
