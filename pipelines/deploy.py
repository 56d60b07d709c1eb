"""Prefect deployments for continuous retraining: `run_all` on a cron schedule, served by this process.

Needs a Prefect server (PREFECT_API_URL, e.g. `make prefect-ui` then
PREFECT_API_URL=http://127.0.0.1:4200/api): `mentorhub pipeline serve` registers the deployment
`all/continuous-retraining` on the schedule the admin set in the admin panel (the model setting
`pipeline.retrain_schedule`: enabled, cron in UTC; `--cron` overrides it) and runs it on schedule (and on
demand from the UI or `prefect deployment run all/continuous-retraining`) until stopped; with the schedule
turned off the deployment has no schedule and runs only on demand. At scale, `deploy()` with a work pool
replaces `serve()` and workers pick the runs up.

The schedule is read when the deployment is built: after an admin changes it, restart `pipeline serve`.
"""
from __future__ import annotations

import json

import sqlalchemy as sa
import prefect

from pipelines.all import run_all
from pipelines.common import engine

DEPLOYMENT_NAME = "continuous-retraining"
DEFAULT_CRON = "0 3 * * *"  # every night at 03:00 UTC (the setting's default)
SCHEDULE_KEY = "pipeline.retrain_schedule"  # the app's model_settings row (api.admin.modelsettings)


def stored_schedule(database_url: str) -> tuple[bool, str]:
    """(enabled, cron) of the admin's retraining schedule in the app database; the defaults when none is stored
    (or the table is not there yet)."""
    enabled, cron = True, DEFAULT_CRON
    db = engine(database_url)
    try:
        with db.connect() as connection:
            value = connection.execute(sa.text("SELECT value FROM model_settings WHERE key = :key"),
                                       {"key": SCHEDULE_KEY}).scalar()
    except sa.exc.SQLAlchemyError:
        value = None
    finally:
        db.dispose()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = None
    if isinstance(value, dict):
        enabled = bool(value.get("enabled", enabled))
        cron = str(value.get("cron") or cron).strip()
    return enabled, cron


def retraining_deployment(parameters: dict, cron: str | None = DEFAULT_CRON, name: str = DEPLOYMENT_NAME):
    """The `all` flow as a deployment with a cron schedule (None: no schedule, on demand only) and fixed
    parameters."""
    return run_all.to_deployment(name=name, cron=cron, parameters=parameters,
                                 description="Ingest, retrain every family, promote the challenger, monitor.",
                                 tags=["mentorhub", "retraining"])


def serve(parameters: dict, cron: str | None = DEFAULT_CRON, name: str = DEPLOYMENT_NAME) -> None:
    """Register the scheduled deployment and execute its runs in this process until interrupted."""
    prefect.serve(retraining_deployment(parameters, cron, name))
