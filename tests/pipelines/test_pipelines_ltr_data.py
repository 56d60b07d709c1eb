"""The learning-to-rank family's data: exposures from the event log, profile fields as model columns."""
from __future__ import annotations

import json

import pandas as pd

from models.constants import ITEM_COL, LANGUAGES_COL, USER_COL, UTC_OFFSET_COL, WEEK_HOURS_COL


def test_week_hours_are_in_utc_and_wrap_around_the_week():
    from pipelines.modelling import week_hours

    assert week_hours([(0, "09:00", "11:00")], 0.0) == [9, 10]
    assert week_hours([(0, "09:00", "10:30")], 2.0) == [7, 8]  # 09:00 at UTC+2 is 07:00 UTC; a part hour counts
    assert week_hours([(0, "01:00", "02:00")], 3.0) == [166]  # Monday 01:00 at UTC+3 is Sunday 22:00 UTC
    assert week_hours([(6, "bad", "10:00")], 0.0) == []


def test_exposures_are_served_lists_and_search_results_of_learners():
    from pipelines.modelling import exposure_interactions, exposures

    at = pd.Timestamp("2025-03-01T10:00:00Z")
    events = pd.DataFrame({
        "occurred_at": [at, at, at, at],
        "event_type": ["exposure", "search", "profile_view", "search"],
        "user_id": pd.array([7, 8, 7, None], dtype="Int64"),
        "payload": [json.dumps({"mentor_ids": [1, 2]}), json.dumps({"results": [3], "query": "sql"}),
                    json.dumps({"mentor_ids": [9]}), json.dumps({"results": [4]})],
    })
    shown = exposures(events)
    assert sorted(zip(shown["learner_id"], shown["mentor_id"])) == [(7, 1), (7, 2), (8, 3)]
    frame = exposure_interactions(shown)
    assert list(frame.columns) == [USER_COL, ITEM_COL, "timestamp"]
    assert (frame["timestamp"] == int(at.timestamp())).all()


def test_profiles_give_offsets_hours_languages_and_prices():
    from pipelines.modelling import learner_profiles, mentor_profiles

    at = pd.Timestamp("2025-01-15T12:00:00Z")
    records = {
        "learners": pd.DataFrame({"user_id": [5], "interests": ["x"], "preferred_slots": [
            json.dumps([{"weekday": 1, "start": "18:00", "end": "19:00"}])]}),
        "user_zones": pd.DataFrame({"id": [5, 6], "timezone": ["Europe/Berlin", "UTC"]}),
        "mentors": pd.DataFrame({"user_id": [6], "languages": [json.dumps(["en", "de"])], "price_minor": [5000],
                                 "price_usd_minor": [5400.0], "timezone": ["Asia/Kolkata"]}),
        "availability": pd.DataFrame({"mentor_id": [6], "weekday": [1], "start_time": ["22:30"],
                                      "end_time": ["23:30"], "timezone": ["Asia/Kolkata"]}),
    }
    learners = learner_profiles(records, at)
    assert learners.loc[0, UTC_OFFSET_COL] == 1.0 and learners.loc[0, WEEK_HOURS_COL] == [24 + 17]
    mentors = mentor_profiles(records, at)
    assert mentors.loc[0, UTC_OFFSET_COL] == 5.5
    assert mentors.loc[0, LANGUAGES_COL] == ["en", "de"] and mentors.loc[0, "price_usd_minor"] == 5400.0
    assert mentors.loc[0, WEEK_HOURS_COL] == [24 + 17]  # 22:30-23:30 at UTC+5:30 is 17:00-18:00 UTC


def test_model_timestamps_are_seconds_whatever_the_resolution_of_the_event_times():
    from models.constants import TIMESTAMP_COL
    from pipelines.modelling import exposure_interactions, ranking_interactions

    times = pd.Series(pd.to_datetime(["2026-01-05T10:00:00Z", "2026-01-06T10:00:00Z"]))
    expected = [1767607200, 1767693600]
    for unit in ("ns", "us", "ms", "s"):
        labels = pd.DataFrame({"learner_id": [1, 1], "mentor_id": [2, 3], "rating": [5.0, None],
                               "event_timestamp": times.dt.as_unit(unit)})
        assert ranking_interactions(labels)[TIMESTAMP_COL].tolist() == expected, unit
        assert exposure_interactions(labels)[TIMESTAMP_COL].tolist() == expected, unit
