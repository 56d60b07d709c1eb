"""Command line for the offline benchmark (attached as ``mentorhub bench recsys``)."""

from __future__ import annotations

import click

from experiments.recsys_benchmark import format_table, model_specs, run_benchmark


def _parse_folds(value: str) -> list[int]:
    try:
        folds = [int(x) for x in value.split(",") if x.strip()]
    except ValueError as exc:
        raise click.BadParameter(f"folds must be comma-separated integers, got {value!r}") from exc
    if not folds or any(f not in (1, 2, 3, 4, 5) for f in folds):
        raise click.BadParameter("folds must be among 1,2,3,4,5")
    return folds


@click.command("recsys")
@click.option("--data", "data_dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="Directory with the MovieLens-100k files (u.data, u.item, u1.base ... u5.test).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Write the result JSON here.")
@click.option("--folds", default="1,2,3,4,5", show_default=True, help="Comma-separated folds to run.")
@click.option("--models", "model_names", default=None,
              help="Comma-separated model names (default: every default model, peers included).")
@click.option("--mlflow-uri", default=None, help="Log one MLflow run per model to this tracking URI.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def recsys(data_dir: str, json_path: str | None, folds: str, model_names: str | None, mlflow_uri: str | None,
           quiet: bool) -> None:
    """Run the MovieLens-100k offline benchmark (our models and the peers) and print the table."""
    names = None
    if model_names:
        names = [n.strip() for n in model_names.split(",") if n.strip()]
        unknown = sorted(set(names) - set(model_specs()))
        if unknown:
            raise click.BadParameter(f"unknown models {unknown}; choose from {sorted(model_specs())}",
                                     param_hint="--models")
    result = run_benchmark(data_dir, folds=_parse_folds(folds), models=names, json_path=json_path,
                           mlflow_tracking_uri=mlflow_uri, progress=not quiet)
    click.echo(format_table(result))
    if json_path:
        click.echo(f"wrote {json_path}")
