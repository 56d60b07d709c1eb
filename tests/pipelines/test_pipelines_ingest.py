"""Ingest is incremental: nothing new adds nothing, new events are picked up."""
from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from models import clock
from pipelines import offline


@pytest.fixture
def tiny_world(tmp_path, prefect_harness, world_builder, fixed_clock):
    """A small world at WORLD_NOW; the clock stays fixed there while the test ingests it."""
    builder = world_builder
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    return var_dir, builder.seed_world(var_dir, learners=30, mentors=6, days=20, seed=3)


@pytest.mark.slow
def test_ingest_is_incremental(tiny_world):
    from pipelines.ingest import ingest

    var_dir, database_url = tiny_world
    first = ingest(database_url, str(var_dir))
    assert first["exported_events"] > 0 and first["feature_rows"]["learner_features"] >= 30
    partitions = sorted((var_dir / "feast" / "offline" / "events").glob("*.parquet"))
    snapshots = sorted((var_dir / "feast" / "offline" / "records").rglob("*.parquet"))

    second = ingest(database_url, str(var_dir))
    assert second["exported_events"] == 0 and second["records_written"] == []
    assert second["data_version"] == first["data_version"]
    assert sorted((var_dir / "feast" / "offline" / "events").glob("*.parquet")) == partitions
    assert sorted((var_dir / "feast" / "offline" / "records").rglob("*.parquet")) == snapshots

    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        learner = conn.execute(sa.text("SELECT user_id FROM learner_profiles ORDER BY user_id LIMIT 1")).scalar_one()
        now = clock.now().strftime("%Y-%m-%d %H:%M:%S.%f")  # as the app stores it
        for _ in range(3):
            conn.execute(sa.text("INSERT INTO events (occurred_at, event_type, user_id, payload) "
                                 "VALUES (:t, 'search', :u, '{\"query\": \"python\"}')"), {"t": now, "u": learner})
    engine.dispose()
    third = ingest(database_url, str(var_dir))
    assert third["exported_events"] == 3 and third["last_event_id"] == first["last_event_id"] + 3
    assert third["data_version"] != first["data_version"]
    events = offline.load_events(var_dir)
    assert len(events) == first["exported_events"] + 3 and events["id"].is_unique
    features = pd.read_parquet(var_dir / "feast" / "data" / "learner_features.parquet")
    latest = features[features["learner_id"] == learner].sort_values("event_timestamp").iloc[-1]
    assert latest["searches_30d"] >= 3


@pytest.mark.slow
def test_an_event_committed_after_a_later_id_is_exported_late_not_skipped(tiny_world):
    """Ids commit out of order (a long transaction, the app's pre-allocated exposure ids): the export watches
    the ids it passed over and picks them up once they are committed."""
    from pipelines.ingest import ingest

    var_dir, database_url = tiny_world
    first = ingest(database_url, str(var_dir))
    mark = first["last_event_id"]
    engine = sa.create_engine(database_url)
    insert = sa.text("INSERT INTO events (id, occurred_at, event_type, user_id, payload) "
                     "VALUES (:id, :t, 'search', :u, '{\"query\": \"late\"}')")
    now = clock.now().strftime("%Y-%m-%d %H:%M:%S.%f")
    with engine.begin() as conn:
        learner = conn.execute(sa.text("SELECT user_id FROM learner_profiles ORDER BY user_id LIMIT 1")).scalar_one()
        conn.execute(insert, {"id": mark + 3, "t": now, "u": learner})  # the later id commits first
    second = ingest(database_url, str(var_dir))
    assert second["exported_events"] == 1 and second["last_event_id"] == mark + 3
    assert set(offline.read_state(var_dir)["holes"]) == {str(mark + 1), str(mark + 2)}

    with engine.begin() as conn:
        conn.execute(insert, {"id": mark + 1, "t": now, "u": learner})  # the earlier one commits now
    engine.dispose()
    third = ingest(database_url, str(var_dir))
    assert third["exported_events"] == 1 and third["last_event_id"] == mark + 3
    assert third["data_version"] != second["data_version"]  # the features are recomputed with it
    ids = offline.load_events(var_dir)["id"]
    assert ids.is_unique and {mark + 1, mark + 3} <= set(ids.tolist())
    assert set(offline.read_state(var_dir)["holes"]) == {str(mark + 2)}  # still watched, until it expires
