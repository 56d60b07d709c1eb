"""Moving a registered model's alias (champion, challenger): the one function the pipeline and serving both call.

Takes an MlflowClient the caller built, so this module imports no MLflow (serving imports it at start-up).
"""
from __future__ import annotations

from models.constants import REGISTERED_MODEL_NAME

CHAMPION = "champion"  # the version serving answers with
CHALLENGER = "challenger"  # the best candidate of the last training run, for A/B tests


def move_alias(client, alias: str, version: str | int, model_name: str = REGISTERED_MODEL_NAME) -> None:
    """Point `alias` of `model_name` at `version` (an MlflowClient's set_registered_model_alias)."""
    client.set_registered_model_alias(model_name, alias, str(version))
