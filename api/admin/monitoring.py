"""The Evidently reports of the monitor flow (var_dir/reports, see pipelines/monitor.py), read from disk.

reports/index.json lists the newest report of each kind ({"kind", "html", "json", "created", ...});
a drift report's JSON holds a DriftedColumnsCount metric (share of drifted columns and the threshold)
and one ValueDrift metric per column (p-value or distance, with its threshold).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from api.settings import current_settings


def reports_dir() -> Path:
    return Path(current_settings().var_dir) / "reports"


def _made_at(stamp: str) -> datetime | None:
    for fmt in ("%Y%m%dT%H%M%S%fZ", "%Y%m%dT%H%M%SZ"):
        try:
            return datetime.strptime(stamp, fmt).replace(tzinfo=timezone.utc)
        except (TypeError, ValueError):
            continue
    return None


def drift_summary(report: dict) -> dict:
    """{"drifted": bool, "share", "threshold", "columns": [drifted column names], "checked": n} from an Evidently JSON."""
    share = threshold = None
    columns, checked = [], 0
    for metric in report.get("metrics", []):
        config = metric.get("config") or {}
        kind = str(config.get("type", ""))
        value = metric.get("value")
        if kind.endswith("DriftedColumnsCount") and isinstance(value, dict):
            share, threshold = value.get("share"), config.get("drift_share", 0.5)
        elif kind.endswith("ValueDrift") and isinstance(value, (int, float)):
            checked += 1
            method, limit = str(config.get("method", "")), config.get("threshold")
            if limit is None:
                continue
            drifted = value < limit if "p_value" in method else value >= limit
            if drifted:
                columns.append(config.get("column"))
    drifted = share is not None and threshold is not None and share >= threshold
    return {"drifted": bool(drifted), "share": share, "threshold": threshold, "columns": columns, "checked": checked}


def reports() -> list[dict]:
    """The newest report of each kind, with the date it was made and, for drift reports, the verdict."""
    folder = reports_dir()
    try:
        index = json.loads((folder / "index.json").read_text())
    except (OSError, ValueError):
        return []
    rows = []
    for kind, entry in sorted(index.items()):
        html = Path(entry.get("html", ""))
        if not html.is_absolute():
            html = folder / html
        row = {"kind": kind, "title": kind.replace("-", " ").capitalize(), "created": _made_at(entry.get("created")),
               "stamp": entry.get("created"), "reference": entry.get("reference"), "file": html.name,
               "available": html.is_file() and html.resolve().parent == folder.resolve(), "drift": None}
        if "drift" in kind:
            try:
                row["drift"] = drift_summary(json.loads(Path(entry.get("json", "")).read_text()))
            except (OSError, ValueError):
                row["drift"] = None
        rows.append(row)
    return rows


def drift_alerts(rows: list[dict] | None = None) -> list[dict]:
    return [r for r in (reports() if rows is None else rows) if r["drift"] and r["drift"]["drifted"]]


def report_file(name: str) -> Path | None:
    """An HTML report by file name, only from the reports folder itself (no path tricks)."""
    if "/" in name or "\\" in name or not name.endswith(".html"):
        return None
    path = reports_dir() / name
    return path if path.is_file() else None
