"""The offline store on disk: incremental event export, record snapshots and feature tables.

Layout under var_dir/feast/offline:
  events/part-<first id>-<last id>[-late-<stamp>].parquet   append-only partitions, one per export batch
                                             (and one per batch of events that committed after later ids)
  records/<table>/<UTC stamp>.parquet        a snapshot of a mutable table, written when it changed
  interactions.parquet                       labels for training (bookings and ratings)
  state.json                                 the watermark (last exported event id and time, ids still missing)
Feature tables (one per Feast view) go to var_dir/feast/data, their latest values per entity to
var_dir/feast/history/<stamp>/ for the drift reports.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from tqdm.auto import tqdm

from pipelines.common import engine, fingerprint, offline_dir, read_json, write_json

HOLE_RETENTION = timedelta(days=2)  # an event id missing this long below the watermark was never committed
MAX_NEW_HOLES = 100_000  # per export batch (a jump of the id sequence is not a hole to watch)
EVENT_COLUMNS = ["id", "occurred_at", "event_type", "user_id", "mentor_id", "booking_id",
                 "exposure_id", "model_version", "arm", "payload"]

# table name in the app database -> (snapshot name, columns, JSON columns)
RECORD_QUERIES: dict[str, tuple[str, list[str], list[str]]] = {
    "mentors": ("mentor_profiles", ["user_id", "headline", "bio", "years_experience", "past_roles", "languages",
                                    "price_minor", "currency", "price_usd_minor", "session_minutes", "timezone",
                                    "status", "rating_count", "rating_sum", "created_at", "updated_at"],
                ["past_roles", "languages"]),
    "learners": ("learner_profiles", ["user_id", "interests", "preferred_slots", "created_at", "updated_at"],
                 ["preferred_slots"]),
    "availability": ("availability_rules", ["mentor_id", "weekday", "start_time", "end_time", "timezone"], []),
    "user_zones": ("users", ["id", "timezone"], []),
    "topics": ("topics", ["id", "slug", "name", "category"], []),
    "learner_topics": ("learner_topics", ["learner_id", "topic_id"], []),
    "mentor_topics": ("mentor_topics", ["mentor_id", "topic_id"], []),
    "bookings": ("bookings", ["id", "learner_id", "mentor_id", "topic_id", "starts_at", "ends_at", "status",
                              "price_minor", "currency", "created_at", "updated_at"], []),
    "reviews": ("reviews", ["id", "booking_id", "learner_id", "mentor_id", "rating", "hidden", "created_at"], []),
}
TIME_COLUMNS = ("occurred_at", "created_at", "updated_at", "starts_at", "ends_at")
CLOCK_COLUMNS = ("start_time", "end_time")  # times of day (weekly availability), kept as "HH:MM" text


def utc_stamp(when: datetime | None = None) -> str:
    """A sortable UTC time stamp for file names."""
    return (when or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%S%fZ")


def state_path(var_dir) -> Path:
    return offline_dir(var_dir) / "state.json"


def read_state(var_dir) -> dict:
    """The export watermark: last event id and time exported, and the hash of each record snapshot."""
    return read_json(state_path(var_dir), {"last_event_id": 0, "last_occurred_at": None, "records": {}, "holes": {},
                                           "late_events": 0})


def _json_text(value) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value if value is not None else None, sort_keys=True)


def _to_utc(values: pd.Series) -> pd.Series:
    """Timestamps as the drivers return them (aware, naive UTC text, or epoch seconds) as UTC."""
    if pd.api.types.is_numeric_dtype(values):
        parsed = pd.to_datetime(values, unit="s", utc=True)
    else:
        parsed = pd.to_datetime(values, utc=True, format="ISO8601")
    return parsed.astype("datetime64[us, UTC]")


def _normalise(frame: pd.DataFrame, json_cols: list[str]) -> pd.DataFrame:
    for c in json_cols:
        if c in frame.columns:
            frame[c] = frame[c].map(_json_text)
    for c in TIME_COLUMNS:
        if c in frame.columns:
            frame[c] = _to_utc(frame[c])
    for c in CLOCK_COLUMNS:
        if c in frame.columns:
            frame[c] = frame[c].map(lambda v: str(v)[:5] if v is not None else None)
    for c in ("status", "event_type"):
        if c in frame.columns:
            frame[c] = frame[c].astype(str)
    return frame


def export_events(database_url: str, var_dir, batch_size: int = 100_000, progress: bool = True) -> dict:
    """Append events newer than the watermark as Parquet partitions; advance the watermark after each one.

    Ids are not committed in order (a transaction that took an id can commit after a later one; the app's
    exposure writer hands out ids before it inserts), so an id missing below the watermark is kept in
    `holes` and looked for again on every export until HOLE_RETENTION has passed (then it was rolled back
    or never used): an event that commits late is exported late, never skipped.
    """
    state = read_state(var_dir)
    holes: dict[str, str] = state.setdefault("holes", {})  # id -> when it was first seen missing (ISO, UTC)
    events_dir = offline_dir(var_dir) / "events"
    events_dir.mkdir(parents=True, exist_ok=True)
    eng = engine(database_url)
    exported = late = 0
    now = datetime.now(timezone.utc)
    try:
        with eng.connect() as conn:
            found = _late_events(conn, sorted(int(i) for i in holes))
            if not found.empty:
                _write_partition(events_dir, found, suffix=f"-late-{now:%Y%m%dT%H%M%S%f}")
                late = len(found)
                for event_id in found["id"].tolist():
                    holes.pop(str(event_id), None)
            cutoff = now - HOLE_RETENTION
            for event_id, since in list(holes.items()):
                if datetime.fromisoformat(since) < cutoff:
                    del holes[event_id]
            state["late_events"] = state.get("late_events", 0) + late
            write_json(state_path(var_dir), state)
            pending = conn.execute(sa.text("SELECT COUNT(*) FROM events WHERE id > :w"),
                                   {"w": state["last_event_id"]}).scalar_one()
            bar = tqdm(total=pending, desc="export events", unit="ev", disable=True if not progress or pending == 0 else None)  # None: off when not a terminal
            while True:
                frame = pd.read_sql(
                    sa.text(f"SELECT {', '.join(EVENT_COLUMNS)} FROM events WHERE id > :w ORDER BY id LIMIT :n"),
                    conn, params={"w": state["last_event_id"], "n": batch_size},
                )
                if frame.empty:
                    break
                frame = _event_frame(frame)
                _write_partition(events_dir, frame)
                last = int(frame["id"].iloc[-1])
                missing = np.setdiff1d(np.arange(state["last_event_id"] + 1, last + 1), frame["id"].to_numpy())
                holes.update((str(i), now.isoformat()) for i in missing[:MAX_NEW_HOLES].tolist())
                state["last_event_id"] = last
                state["last_occurred_at"] = str(frame["occurred_at"].max())
                write_json(state_path(var_dir), state)  # the watermark moves only after the partition is on disk
                exported += len(frame)
                bar.update(len(frame))
            bar.close()
    finally:
        eng.dispose()
    return {"exported": exported + late, "late": late, "last_event_id": state["last_event_id"]}


def _event_frame(frame: pd.DataFrame) -> pd.DataFrame:
    frame = _normalise(frame, ["payload"])
    for c in ("user_id", "mentor_id", "booking_id", "exposure_id"):
        frame[c] = frame[c].astype("Int64")
    return frame


def _write_partition(events_dir: Path, frame: pd.DataFrame, suffix: str = "") -> None:
    first, last = int(frame["id"].iloc[0]), int(frame["id"].iloc[-1])
    path = events_dir / f"part-{first:012d}-{last:012d}{suffix}.parquet"
    tmp = path.with_suffix(".tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)


def _late_events(conn, ids: list[int]) -> pd.DataFrame:
    """The events committed since the watermark passed their ids."""
    statement = sa.text(f"SELECT {', '.join(EVENT_COLUMNS)} FROM events WHERE id IN :ids ORDER BY id").bindparams(
        sa.bindparam("ids", expanding=True))
    frames = [pd.read_sql(statement, conn, params={"ids": ids[start:start + 500]})
              for start in range(0, len(ids), 500)]
    frames = [f for f in frames if not f.empty]
    return _event_frame(pd.concat(frames, ignore_index=True)) if frames else pd.DataFrame(columns=EVENT_COLUMNS)


def _content_hash(frame: pd.DataFrame) -> str:
    return str(int(pd.util.hash_pandas_object(frame.astype(str), index=False).sum()) & (2**63 - 1))


def snapshot_records(database_url: str, var_dir) -> dict:
    """Snapshot each mutable table when its content changed since the last snapshot; returns table -> hash."""
    state = read_state(var_dir)
    hashes = dict(state.get("records", {}))
    stamp = utc_stamp()
    written = []
    eng = engine(database_url)
    try:
        with eng.connect() as conn:
            for name, (table, columns, json_cols) in RECORD_QUERIES.items():
                frame = pd.read_sql(sa.text(f"SELECT {', '.join(columns)} FROM {table} ORDER BY 1"), conn)
                frame = _normalise(frame, json_cols)
                digest = _content_hash(frame)
                if hashes.get(name) == digest and latest_snapshot_path(var_dir, name) is not None:
                    continue
                folder = offline_dir(var_dir) / "records" / name
                folder.mkdir(parents=True, exist_ok=True)
                tmp = folder / f"{stamp}.tmp"
                frame.to_parquet(tmp, index=False)
                tmp.replace(folder / f"{stamp}.parquet")
                hashes[name] = digest
                written.append(name)
    finally:
        eng.dispose()
    state = read_state(var_dir)
    state["records"] = hashes
    write_json(state_path(var_dir), state)
    return {"written": written, "hashes": hashes}


def latest_snapshot_path(var_dir, name: str) -> Path | None:
    files = sorted((offline_dir(var_dir) / "records" / name).glob("*.parquet"))
    return files[-1] if files else None


def load_records(var_dir) -> dict[str, pd.DataFrame]:
    """The latest snapshot of every record table."""
    out = {}
    for name, (_, columns, _) in RECORD_QUERIES.items():
        path = latest_snapshot_path(var_dir, name)
        out[name] = pd.read_parquet(path) if path else pd.DataFrame(columns=columns)
    return out


def load_events(var_dir, columns: list[str] | None = None) -> pd.DataFrame:
    """Every exported event (all partitions)."""
    files = sorted((offline_dir(var_dir) / "events").glob("part-*.parquet"))
    if not files:
        frame = pd.DataFrame(columns=EVENT_COLUMNS)
        frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True)
        return frame if columns is None else frame[columns]
    return pd.concat([pd.read_parquet(f, columns=columns) for f in files], ignore_index=True)


def data_version(var_dir) -> str:
    """What the feature tables are computed from: the event watermark and the record hashes."""
    state = read_state(var_dir)
    return fingerprint(state["last_event_id"], state.get("late_events", 0), state.get("records", {}))


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    """Write a Parquet table atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)
    return path
