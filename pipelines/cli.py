"""`mentorhub pipeline ...`: run the flows in-process (or against a Prefect server when one is configured).

The app's CLI (api/cli.py) attaches this group lazily and passes the settings as the click context
object: database_url, var_dir, mlflow_uri, online_store, redis_url, prefect_api_url, now (CLOCK_NOW). Run directly
(`python -m pipelines.cli --var-dir var --database-url sqlite:///var/mentorhub.db all`), the
options give the same values.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import click

from models import clock
from pipelines.common import configure_prefect
from pipelines.offline import data_version


def _config(ctx: click.Context) -> dict:
    cfg = dict(ctx.obj or {})
    explicit_now = ctx.find_root().params.get("now")
    if explicit_now:  # --now fixes the product's one clock; the settings' CLOCK_NOW unless already fixed
        clock.set_now(explicit_now)
    elif cfg.get("now") and not clock.is_fixed():
        clock.set_now(cfg["now"])
    for key, value in ctx.find_root().params.items():
        if value not in (None, "") and key != "json_output":
            cfg[key] = value
    var_dir = Path(cfg.get("var_dir") or "var").resolve()
    cfg["var_dir"] = str(var_dir)
    cfg.setdefault("database_url", f"sqlite:///{var_dir / 'mentorhub.db'}")
    cfg.setdefault("mlflow_uri", f"sqlite:///{var_dir / 'mlflow.db'}")
    cfg.setdefault("online_store", "sqlite")
    cfg.setdefault("redis_url", "")
    configure_prefect(var_dir, cfg.get("prefect_api_url", ""))
    return cfg


def _report(name: str, started: float, result) -> None:
    """The step's summary: a line or two (or, with `pipeline --json`, the whole result as JSON).

    When the caller gave a list as the context object's `summary` (the app's CLI, which sends the details
    to a log file meanwhile), the lines go there to be printed after the step."""
    ctx = click.get_current_context()
    seconds = time.perf_counter() - started
    if ctx.find_root().params.get("json_output"):
        text = json.dumps({"step": name, "seconds": round(seconds, 1), "result": result}, indent=2, default=str,
                          sort_keys=True)
    elif name == "all":
        text = all_summary(result, seconds)
    else:
        text = f"Pipeline {name}: done in {seconds:.0f}s" + (f": {_brief(result)}." if result else ".")
    sink = (ctx.obj or {}).get("summary")
    if isinstance(sink, list):
        sink.extend(text.splitlines())
    else:
        click.echo(text)


def _brief(result) -> str:
    """Top-level values of a step's result in one line (nested ones by their size)."""
    if not isinstance(result, dict):
        return str(result)
    parts = []
    for key, value in result.items():
        if isinstance(value, (dict, list, tuple)):
            parts.append(f"{key}: {len(value)}")
        elif value not in (None, ""):
            parts.append(f"{key} {value}")
    return ", ".join(parts)


def all_summary(summary: dict, seconds: float) -> str:
    """Two lines for `pipeline all`: what came in, how many models, the champion; then each model's NDCG@10."""
    candidates = summary.get("candidates") or {}
    promote = summary.get("promote") or {}
    ranked = sorted(candidates.items(), key=lambda item: -item[1].get("ndcg_at_10", 0.0))
    champion = promote.get("family")
    metric = candidates.get(champion, {}).get("ndcg_at_10")
    first = (f"ML pipeline: done in {seconds:.0f}s: {summary.get('new_events', 0):,} new events; "
             f"{len(candidates)} models trained; champion {champion or 'unchanged'}")
    if champion:
        first += f" (version {promote.get('champion')}" + (f", NDCG@10 {metric:.3f})" if metric is not None else ")")
    if promote.get("challenger") and promote.get("challenger") != promote.get("champion"):
        first += f", challenger version {promote['challenger']}"
    second = "  NDCG@10 by model: " + ", ".join(f"{family} {m.get('ndcg_at_10', 0.0):.3f}" for family, m in ranked)
    if summary.get("reports"):
        reports = Path(summary["reports"]).resolve()
        inside = reports.is_relative_to(Path.cwd().resolve())
        second += f"; reports: {reports.relative_to(Path.cwd().resolve()) if inside else reports}"
    return first + ".\n" + second


@click.group("pipeline")
@click.option("--var-dir", default=None, help="Data folder (default: the settings' VAR_DIR).")
@click.option("--database-url", default=None, help="App database URL (default: the settings').")
@click.option("--mlflow-uri", default=None, help="MLflow tracking URI (default: the settings').")
@click.option("--online-store", type=click.Choice(["sqlite", "redis"]), default=None)
@click.option("--redis-url", default=None)
@click.option("--prefect-api-url", default=None, help="A Prefect server; none runs the flows in-process.")
@click.option("--json", "json_output", is_flag=True, help="Print each step's whole result as JSON.")
@click.option("--now", default=None, metavar="INSTANT",
              help="Fix the product's clock at this ISO 8601 instant (UTC) for the run (default: the system clock).")
def pipeline(**_options) -> None:
    """ML pipelines (Prefect flows): ingest, train, promote, monitor, all, serve."""


@pipeline.command("ingest")
@click.pass_context
def ingest_command(ctx: click.Context) -> None:
    """Export new events and records, compute features, feast apply, materialise online."""
    cfg = _config(ctx)
    from pipelines.ingest import ingest  # lazy: Prefect reads its settings at import; _config sets them

    started = time.perf_counter()
    _report("ingest", started, ingest(cfg["database_url"], cfg["var_dir"], cfg["online_store"], cfg["redis_url"]))


def _training_options(command):
    command = click.option("--task-runner", type=click.Choice(["thread", "dask"]), default="thread",
                           show_default=True, help="dask: train the model families in parallel on a Dask cluster.")(command)
    command = click.option("--dask-address", default="", help="A Dask scheduler (default: a local cluster).")(command)
    command = click.option("--dask-workers", default=2, show_default=True, type=click.IntRange(1))(command)
    command = click.option("--family", "families", multiple=True,
                           help="Train only these families (repeatable; default: all).")(command)
    command = click.option("--holdout-fraction", default=0.2, show_default=True,
                           type=click.FloatRange(0.05, 0.5))(command)
    return command


@pipeline.command("train")
@_training_options
@click.pass_context
def train_command(ctx: click.Context, task_runner: str, dask_address: str, dask_workers: int, families: tuple,
                  holdout_fraction: float) -> None:
    """Train, evaluate and register every model family on the data of the last ingest."""
    cfg = _config(ctx)
    from pipelines.all import make_task_runner  # lazy: Prefect reads its settings at import; _config sets them
    from pipelines.train import train  # lazy: Prefect reads its settings at import; _config sets them

    started = time.perf_counter()
    flow = train.with_options(task_runner=make_task_runner(task_runner, dask_address, dask_workers))
    _report("train", started, flow(cfg["var_dir"], cfg["mlflow_uri"], data_version(cfg["var_dir"]),
                                   cfg["online_store"], cfg["redis_url"], list(families) or None, holdout_fraction))


@pipeline.command("promote")
@click.option("--metric", default="ndcg_at_10", show_default=True, type=click.Choice(["ndcg_at_10", "precision_at_10"]))
@click.pass_context
def promote_command(ctx: click.Context, metric: str) -> None:
    """Give the best candidate of the last training run the challenger alias (champion if none)."""
    cfg = _config(ctx)
    from pipelines.promote import promote  # lazy: Prefect reads its settings at import; _config sets them

    started = time.perf_counter()
    _report("promote", started, promote(cfg["mlflow_uri"], None, metric))


@pipeline.command("monitor")
@click.pass_context
def monitor_command(ctx: click.Context) -> None:
    """Write the Evidently drift and quality reports under var/reports."""
    cfg = _config(ctx)
    from pipelines.monitor import monitor  # lazy: Prefect reads its settings at import; _config sets them

    started = time.perf_counter()
    _report("monitor", started, monitor(cfg["var_dir"], cfg["mlflow_uri"]))


@pipeline.command("all")
@_training_options
@click.option("--no-monitor", is_flag=True, help="Skip the Evidently reports.")
@click.pass_context
def all_command(ctx: click.Context, task_runner: str, dask_address: str, dask_workers: int, families: tuple,
                holdout_fraction: float, no_monitor: bool) -> None:
    """Ingest -> train -> promote -> monitor; a rerun after a failure resumes where it stopped."""
    cfg = _config(ctx)
    from pipelines.all import run_all  # lazy: Prefect reads its settings at import; _config sets them

    started = time.perf_counter()
    result = run_all(cfg["database_url"], cfg["var_dir"], cfg["mlflow_uri"], cfg["online_store"], cfg["redis_url"],
                     task_runner, dask_address, dask_workers, list(families) or None, holdout_fraction,
                     not no_monitor)
    summary = {
        "data_version": result["ingest"]["data_version"],
        "new_events": result["ingest"]["exported_events"],
        "candidates": {c["family"]: {"version": c["version"], **{k: round(v, 4) for k, v in c["metrics"].items()
                                                                  if k in ("precision_at_10", "ndcg_at_10", "rmse")}}
                       for c in result["train"]["candidates"]},
        "promote": {k: result["promote"][k] for k in ("challenger", "champion", "family", "first_champion")},
        "reports": (result["monitor"] or {}).get("index"),
    }
    _report("all", started, summary)


@pipeline.command("serve")
@click.option("--cron", default=None, help="When to retrain (UTC cron); default: the schedule set in the admin "
                                          "panel (model setting pipeline.retrain_schedule, 0 3 * * * until set).")
@click.option("--task-runner", type=click.Choice(["thread", "dask"]), default="thread", show_default=True)
@click.pass_context
def serve_command(ctx: click.Context, cron: str | None, task_runner: str) -> None:
    """Serve the scheduled `all` deployment (continuous retraining) until interrupted; needs a Prefect server."""
    cfg = _config(ctx)
    if not cfg.get("prefect_api_url"):
        raise click.UsageError("a schedule needs a Prefect server: set PREFECT_API_URL (e.g. after make prefect-ui)")
    from pipelines.deploy import serve, stored_schedule  # lazy: Prefect reads its settings at import; _config sets them

    if cron is None:
        enabled, cron = stored_schedule(cfg["database_url"])
        if not enabled:
            cron = None
            click.echo("Retraining schedule is off (admin panel): the deployment runs only on demand.")
        else:
            click.echo(f"Retraining on the admin panel's schedule: {cron} (UTC).")
    serve({"database_url": cfg["database_url"], "var_dir": cfg["var_dir"], "mlflow_uri": cfg["mlflow_uri"],
           "online_store": cfg["online_store"], "redis_url": cfg["redis_url"], "task_runner": task_runner}, cron)


if __name__ == "__main__":
    pipeline()
