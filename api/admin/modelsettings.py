"""Model settings stored as ModelSetting rows, "retrain now", and the MLflow registry (read lazily).

Keys (JSON values) that serving and the pipelines read (serving: `api.recommendations.engine.model_settings`,
cached briefly and dropped in this process as soon as an admin saves; other processes within
`serving_settings_cache_seconds`):
- "rerank_weights": serving.recommend.DEFAULT_WEIGHTS' fields (0..5 each): the re-ranking (engine.admin_weights)
- "ranking.candidate_rules": require_availability_days (0..60), min_rating (0..5), max_price_minor (USD minor
  units, 0: none), exclude_booked_by_learner (bool), quiet_after_days (0..365, 0: off): which mentors may be
  recommended (serving.candidates, engine.candidate_index)
- "ranking.hybrid_blend": content, collaborative, neural (0..1 each, summing to 1): how the arm's model is blended
  with the other families' models (serving.recommend.blended)
- "pipeline.retrain_schedule": enabled (bool), cron (5 fields, UTC): the Prefect deployment's schedule
  (`mentorhub pipeline serve`, pipelines.deploy.stored_schedule)
"""
from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

from api.admin import audit
from api.extensions import db
from api.recommendations.engine import settings_changed
from api.settings import current_settings
from api.tables import ModelSetting
from serving.recommend import DEFAULT_BLEND, DEFAULT_WEIGHTS
from serving.registry import CHALLENGER, CHAMPION, MODEL_NAME

logger = logging.getLogger("mentorhub.admin")

WEIGHT_LABELS = {"model": "Model score", "availability": "Availability soon", "popularity": "Popularity",
                 "diversity": "Diversity (topic overlap penalty)", "new_mentor": "Fair exposure for new mentors",
                 "interest": "Match with stated interests"}
# "rerank_weights" is the key serving reads (api.recommendations.engine.admin_weights); its fields and
# defaults are serving.recommend.DEFAULT_WEIGHTS.
SPECS: dict[str, dict[str, tuple]] = {
    # name: (type, default, minimum, maximum, label)
    "rerank_weights": {name: (float, float(value), 0.0, 5.0, WEIGHT_LABELS.get(name, name))
                       for name, value in DEFAULT_WEIGHTS.items()},
    "ranking.candidate_rules": {
        "require_availability_days": (int, 0, 0, 60, "Free slot within (days; 0: any)"),
        "min_rating": (float, 0.0, 0.0, 5.0, "Minimum average rating (0: any; mentors not rated yet stay)"),
        "max_price_minor": (int, 0, 0, 10_000_000, "Maximum price per session in US cents (0: none)"),
        "exclude_booked_by_learner": (bool, True, None, None,
                                      "Leave out mentors the learner already booked (shown under Book again)"),
        "quiet_after_days": (int, 0, 0, 365, "Hide mentors gone quiet: a request unanswered for this many days "
                                             "and no answer to a later one (0: off)"),
    },
    "ranking.hybrid_blend": {
        "content": (float, DEFAULT_BLEND["content"], 0.0, 1.0, "Content-based"),
        "collaborative": (float, DEFAULT_BLEND["collaborative"], 0.0, 1.0, "Collaborative"),
        "neural": (float, DEFAULT_BLEND["neural"], 0.0, 1.0, "Neural"),
    },
    "pipeline.retrain_schedule": {
        "enabled": (bool, True, None, None, "Retrain on a schedule"),
        "cron": (str, "0 3 * * *", None, None, "When (cron, UTC)"),
    },
}


TITLES = {"rerank_weights": "Re-ranking weights", "ranking.candidate_rules": "Candidate rules",
          "ranking.hybrid_blend": "Hybrid blend", "pipeline.retrain_schedule": "Retraining schedule"}
CRON = re.compile(r"^(\S+\s+){4}\S+$")
CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")


class SettingError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def specs() -> dict[str, dict[str, tuple]]:
    return SPECS


def defaults(key: str) -> dict:
    return {name: spec[1] for name, spec in SPECS[key].items()}


def current(key: str) -> dict:
    row = db.session.get(ModelSetting, key)
    return {**defaults(key), **{k: v for k, v in ((row.value if row else None) or {}).items() if k in SPECS[key]}}


def all_settings() -> dict[str, dict]:
    return {key: current(key) for key in SPECS}


def _coerce(key: str, name: str, value):
    """One field's value as its spec's type, within its bounds; SettingError naming the field otherwise."""
    kind, _default, low, high, label = SPECS[key][name]
    field = f"{key}.{name}"
    if kind is bool:
        return value.lower() in {"1", "true", "on", "yes"} if isinstance(value, str) else bool(value)
    if kind is str:
        return _text(field, name, value)
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise SettingError(field, f"{label}: enter a number.") from None
    if number != number or (low is not None and number < low) or (high is not None and number > high):
        raise SettingError(field, f"{label}: between {low:g} and {high:g}.")
    return number


def _text(field: str, name: str, value) -> str:
    value = str(value or "").strip()
    if name == "cron" and not (CRON.match(value) and all(CRON_FIELD.match(p) for p in value.split())):
        raise SettingError(field, "Write the schedule as five cron fields, e.g. 0 3 * * * (03:00 UTC daily).")
    return value


def validate(key: str, values: dict) -> dict:
    if key not in SPECS:
        raise SettingError("key", f"Unknown setting {key!r}.")
    unknown = set(values) - set(SPECS[key])
    if unknown:
        raise SettingError(f"{key}.{sorted(unknown)[0]}", f"Unknown field(s): {', '.join(sorted(unknown))}.")
    merged = {**current(key), **{name: _coerce(key, name, v) for name, v in values.items()}}
    if key == "ranking.hybrid_blend" and abs(sum(merged.values()) - 1.0) > 1e-6:
        raise SettingError(f"{key}.content", "The blend weights must add up to 1.")
    return merged


def update(key: str, values: dict, admin_id: int) -> dict:
    """Validate, store and audit (old and new values) one setting."""
    before = current(key)
    merged = validate(key, values)
    row = db.session.get(ModelSetting, key)
    if row is None:
        db.session.add(ModelSetting(key=key, value=merged, updated_by=admin_id))
    else:
        row.value, row.updated_by = merged, admin_id
    changed = {k: {"from": before.get(k), "to": v} for k, v in merged.items() if before.get(k) != v}
    audit.record("model_settings.update", "setting", key, admin_id=admin_id, commit=False, changed=changed)
    db.session.commit()
    try:
        settings_changed()  # serving reads the new value at once in this process
    except Exception:  # noqa: BLE001 - serving not set up: it reads the row after its cache expires
        pass
    return merged


# --- retrain now --------------------------------------------------------------------------------

def _retrain_dir() -> Path:
    return Path(current_settings().var_dir) / "admin" / "retrain"


def retrain_command() -> list[str]:
    configured = current_settings().admin_retrain_command
    return list(configured) if configured else [sys.executable, "-m", "api.cli", "--verbose", "pipeline", "all"]


def start_retraining(admin_id: int) -> dict:
    """Start `mentorhub pipeline all` in its own process (never inside the request); its output goes to a log file."""
    folder = _retrain_dir()
    folder.mkdir(parents=True, exist_ok=True)
    running = retrain_status()
    if running and running.get("running"):
        raise SettingError("retrain", f"A retraining run is already going (process {running['pid']}).")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    log_path = folder / f"retrain-{stamp}.log"
    command = retrain_command()
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   cwd=str(Path(__file__).resolve().parents[2]), start_new_session=True,
                                   close_fds=True)
    (folder / "last.json").write_text(
        '{"pid": %d, "started": "%s", "log": "%s"}' % (process.pid, stamp, log_path.name))
    audit.record("pipeline.retrain", "pipeline", "all", admin_id=admin_id, pid=process.pid, log=log_path.name)
    logger.info("retraining started", extra={"pid": process.pid, "admin_id": admin_id})
    return {"pid": process.pid, "started": stamp, "log": log_path.name}


def _alive(pid: int) -> bool:
    try:
        finished, _status = os.waitpid(pid, os.WNOHANG)  # our own child: reap it once it is done
        if finished == pid:
            return False
    except ChildProcessError:
        pass  # not our child (another worker started it): fall back to a signal probe
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def retrain_status() -> dict | None:
    """The last run started from the panel: pid, start time, log file name, running or not, and its log's tail."""
    path = _retrain_dir() / "last.json"
    if not path.is_file():
        return None
    try:
        info = json.loads(path.read_text())
    except ValueError:
        return None
    info["running"] = _alive(int(info.get("pid", 0))) if info.get("pid") else False
    log = _retrain_dir() / str(info.get("log", ""))
    info["tail"] = log.read_text(errors="replace")[-2000:] if log.is_file() else ""
    return info


# --- the MLflow registry ------------------------------------------------------------------------

METRICS = ("precision_at_10", "recall_at_10", "ndcg_at_10", "coverage_at_10", "rmse", "mae")


def registry_versions(tracking_uri: str) -> dict:
    """The registered model's versions, newest first, with aliases, family and offline metrics (mlflow imported here)."""
    try:
        import mlflow  # lazy: mlflow costs seconds to import; only the registry views need it

        mlflow.set_tracking_uri(tracking_uri)
        client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        versions = client.search_model_versions(f"name='{MODEL_NAME}'")
    except Exception as error:  # noqa: BLE001 - no registry yet, or an unreachable server: shown, never a 500
        logger.warning("MLflow registry not readable: %s", error)
        return {"versions": [], "aliases": {}, "error": f"The model registry could not be read ({type(error).__name__})."}
    aliases = _aliases(client, versions)
    rows = [_version_row(client, v, aliases) for v in versions]
    rows.sort(key=lambda r: int(r["version"]) if r["version"].isdigit() else 0, reverse=True)
    return {"versions": rows, "aliases": dict(sorted(aliases.items(), key=lambda item: _alias_order(item[0]))),
            "error": None}


def _version_row(client, v, aliases: dict[str, str]) -> dict:
    """One model version: its aliases, family, run, creation time and offline metrics."""
    return {"version": str(v.version),
            "aliases": sorted((a for a, version in aliases.items() if version == str(v.version)), key=_alias_order),
            "family": (v.tags or {}).get("family", ""), "run_id": v.run_id,
            "created": datetime.fromtimestamp(v.creation_timestamp / 1000, timezone.utc).isoformat()
            if v.creation_timestamp else None, "metrics": _version_metrics(client, v)}


def _version_metrics(client, v) -> dict[str, float]:
    """The offline metrics in the version's tags, else in its training run's metrics."""
    metrics = {}
    for name in METRICS:
        try:
            metrics[name] = float((v.tags or {})[name])
        except (KeyError, ValueError):
            pass
    if not metrics and v.run_id:
        try:
            run_metrics = client.get_run(v.run_id).data.metrics
            metrics = {k: float(run_metrics[k]) for k in METRICS if k in run_metrics}
        except Exception:  # noqa: BLE001 - a run that cannot be read: the version shows no metrics
            pass
    return metrics


def _alias_order(alias: str) -> tuple:
    return ({CHAMPION: 0, CHALLENGER: 1}.get(alias, 2), alias)


def _aliases(client, versions) -> dict[str, str]:
    """alias -> version, from the registered model (MLflow's version search leaves each version's aliases empty).

    Like serving (serving.registry), champion and challenger are resolved by alias when the model lists none.
    """
    found: dict[str, str] = {}
    listed = False
    try:
        found = {alias: str(version) for alias, version in (client.get_registered_model(MODEL_NAME).aliases or {}).items()}
        listed = True
    except Exception as error:  # noqa: BLE001 - the table still lists the versions
        logger.warning("MLflow registered model not readable: %s", error)
    for v in versions:  # a store that does fill them in
        for alias in getattr(v, "aliases", None) or []:
            found.setdefault(alias, str(v.version))
    for alias in (CHAMPION, CHALLENGER):
        if alias not in found and versions and not listed:
            try:
                found[alias] = str(client.get_model_version_by_alias(MODEL_NAME, alias).version)
            except Exception:  # noqa: BLE001 - no such alias (yet)
                pass
    return found


# --- the MLflow UI ------------------------------------------------------------------------------

UI_PROBE_SECONDS = 0.3


def ui_answers(url: str, timeout: float = UI_PROBE_SECONDS) -> bool:
    """Does a web UI (MLflow's, Prefect's) answer at this address right now? A short probe, never an error."""
    if not url.startswith(("http://", "https://")):
        return False
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="GET"), timeout=timeout) as response:
            return response.status < 500
    except urllib.error.HTTPError as error:
        return error.code < 500
    except (urllib.error.URLError, OSError, ValueError):
        return False
