"""Flow `promote`: the best candidate of a training run becomes `challenger`; the first ever model also `champion`.

Serving later moves `champion` by the online A/B results (bookings per exposure, per arm).
"""
from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from pipelines.common import IO_RETRIES, IO_RETRY_DELAY_SECONDS, MODEL_NAME
from pipelines import modelling, tracking


@task(retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAY_SECONDS, cache_policy=NO_CACHE)
def latest_candidates(mlflow_uri: str, model_name: str = MODEL_NAME) -> list[dict]:
    """The versions registered by the most recent training run (same data_version tag as the newest version)."""
    c = tracking.client(mlflow_uri)
    versions = c.search_model_versions(f"name='{model_name}'")
    if not versions:
        return []
    newest = max(versions, key=lambda v: int(v.version))
    data_version = newest.tags.get("data_version")
    out = []
    for v in versions:
        if v.tags.get("data_version") != data_version:
            continue
        metrics = {}
        for key, value in v.tags.items():
            try:
                metrics[key] = float(value)
            except ValueError:
                pass
        out.append({"family": v.tags.get("family", "?"), "version": str(v.version), "run_id": v.run_id,
                    "metrics": metrics})
    return out


@task
def choose_best(candidates: list[dict], metric: str = "ndcg_at_10") -> dict:
    """The candidate with the best hold-out metric (precision@10 breaks ties)."""
    if not candidates:
        raise ValueError("no candidate to promote")
    ranked = modelling.rank_candidates(candidates, metric=metric)
    logger = get_run_logger()
    for c in ranked:
        logger.info("  %-14s v%-4s %s=%.4f P@10=%.4f", c["family"], c["version"], metric,
                    c["metrics"].get(metric, float("nan")), c["metrics"].get("precision_at_10", float("nan")))
    return ranked[0]


@task(retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAY_SECONDS, cache_policy=NO_CACHE)
def move_aliases(mlflow_uri: str, best: dict, model_name: str = MODEL_NAME) -> dict:
    """Point `challenger` at the best version; `champion` too when there is none yet (the first ever model)."""
    logger = get_run_logger()
    tracking.set_alias(mlflow_uri, tracking.CHALLENGER, best["version"], model_name)
    champion = tracking.alias_version(mlflow_uri, tracking.CHAMPION, model_name)
    first = champion is None
    if first:
        tracking.set_alias(mlflow_uri, tracking.CHAMPION, best["version"], model_name)
        champion = best["version"]
        logger.info("first model: version %s (%s) is champion and challenger", best["version"], best["family"])
    else:
        current = tracking.version_metrics(mlflow_uri, champion, model_name)
        logger.info("challenger: version %s (%s, NDCG@10 %.4f); champion stays version %s (NDCG@10 %.4f) until "
                    "the A/B test decides", best["version"], best["family"], best["metrics"].get("ndcg_at_10", 0.0),
                    champion, float(current.get("ndcg_at_10", float("nan"))))
    return {"challenger": best["version"], "champion": champion, "first_champion": first,
            "family": best["family"], "metrics": best["metrics"]}


@flow(name="promote", log_prints=True)
def promote(mlflow_uri: str, candidates: list[dict] | None = None, metric: str = "ndcg_at_10") -> dict:
    """Set the `challenger` alias on the best candidate (and `champion` on the first ever model)."""
    if candidates is None:
        candidates = latest_candidates(mlflow_uri)
    best = choose_best(candidates, metric)
    return move_aliases(mlflow_uri, best)
