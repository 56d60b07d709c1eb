"""Prefect deployments for continuous retraining: `run_all` on a cron schedule, served by this process.

Needs a Prefect server (PREFECT_API_URL, e.g. `make prefect-ui` then
PREFECT_API_URL=http://127.0.0.1:4200/api): `mentorhub pipeline serve --cron "0 3 * * *"` registers
the deployment `all/continuous-retraining` and runs it on schedule (and on demand from the UI or
`prefect deployment run all/continuous-retraining`) until stopped. At scale, `deploy()` with a
work pool replaces `serve()` and workers pick the runs up.
"""
from __future__ import annotations

DEPLOYMENT_NAME = "continuous-retraining"
DEFAULT_CRON = "0 3 * * *"  # every night at 03:00 UTC


def retraining_deployment(parameters: dict, cron: str = DEFAULT_CRON, name: str = DEPLOYMENT_NAME):
    """The `all` flow as a deployment with a cron schedule and fixed parameters."""
    from pipelines.all import run_all

    return run_all.to_deployment(name=name, cron=cron, parameters=parameters,
                                 description="Ingest, retrain every family, promote the challenger, monitor.",
                                 tags=["mentorhub", "retraining"])


def serve(parameters: dict, cron: str = DEFAULT_CRON, name: str = DEPLOYMENT_NAME) -> None:
    """Register the scheduled deployment and execute its runs in this process until interrupted."""
    from prefect import serve as prefect_serve

    prefect_serve(retraining_deployment(parameters, cron, name))
