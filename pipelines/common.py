"""What every flow shares: paths under var_dir, Prefect environment, database reads, small file helpers."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from models.constants import REGISTERED_MODEL_NAME

MODEL_NAME = REGISTERED_MODEL_NAME
EXPERIMENT_NAME = "mentorhub-recommenders"
IO_RETRIES = 2
IO_RETRY_DELAY_SECONDS = 2


def pipeline_dir(var_dir: Path | str) -> Path:
    """State of the pipelines (watermarks, trained models) under var_dir."""
    return Path(var_dir) / "pipelines"


def offline_dir(var_dir: Path | str) -> Path:
    """The offline store: exported events (append-only partitions) and record snapshots."""
    return Path(var_dir) / "feast" / "offline"


def reports_dir(var_dir: Path | str) -> Path:
    """Evidently reports (HTML and JSON) that the admin panel reads."""
    return Path(var_dir) / "reports"


def result_storage_dir(var_dir: Path | str) -> Path:
    """Prefect's persisted task results and cache records."""
    return Path(var_dir) / "prefect" / "results"


def prefect_environment(var_dir: Path | str, api_url: str = "") -> dict[str, str]:
    """Environment for Prefect: its home and results under var_dir; a server only when api_url is set."""
    home = Path(var_dir) / "prefect"
    env = {
        "PREFECT_HOME": str(home),
        "PREFECT_LOCAL_STORAGE_PATH": str(result_storage_dir(var_dir)),
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
        "PREFECT_LOGGING_LEVEL": "INFO",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false" if not api_url else "true",
        "PREFECT_API_URL": api_url,
        # the in-process (ephemeral) server migrates a fresh database on first start: slow on a busy machine
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
        "GIT_PYTHON_REFRESH": "quiet",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }
    return env


def configure_prefect(var_dir: Path | str, api_url: str = "") -> None:
    """Export `prefect_environment` before Prefect is imported (the CLI does this first)."""
    for key, value in prefect_environment(var_dir, api_url).items():
        if value:
            os.environ[key] = value
        else:
            os.environ.pop(key, None)
    Path(var_dir, "prefect").mkdir(parents=True, exist_ok=True)


def engine(database_url: str):
    """A SQLAlchemy engine on the app database (plain table names, Core only)."""
    import sqlalchemy as sa

    if database_url.startswith(("postgres://", "postgresql://")):
        database_url = "postgresql+psycopg2://" + database_url.split("://", 1)[1]
    return sa.create_engine(database_url)


def read_json(path: Path, default: Any = None) -> Any:
    """A JSON file's content, or `default` when it does not exist."""
    return json.loads(path.read_text()) if path.is_file() else default


def write_json(path: Path, value: Any) -> None:
    """Write JSON atomically (a crash never leaves half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(value, indent=2, sort_keys=True, default=str))
    tmp.replace(path)


def fingerprint(*parts: Any) -> str:
    """A short stable hash of JSON-serialisable parts (cache keys, data versions)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
