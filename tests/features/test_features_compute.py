"""Feature computation on hand-built records with known values, and Feast's point-in-time join."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from features import compute

# recent enough that materialisation (which looks back one feature TTL) picks the rows up
T0 = datetime.now(timezone.utc).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=100)


def at(days: float, hours: float = 0) -> pd.Timestamp:
    return pd.Timestamp(T0 + timedelta(days=days, hours=hours))


@pytest.fixture
def records() -> dict[str, pd.DataFrame]:
    topics = pd.DataFrame({"id": [1, 2], "slug": ["python", "guitar"], "name": ["Python", "Guitar"],
                           "category": ["programming", "music"]})
    learners = pd.DataFrame({"user_id": [10, 11], "interests": ["data science", ""],
                             "created_at": [at(0), at(0)], "updated_at": [at(0), at(0)]})
    mentors = pd.DataFrame({"user_id": [20, 21], "headline": ["Python mentor", "Guitar teacher"], "bio": ["", ""],
                            "years_experience": [7, 3], "past_roles": ['["Engineer at Acme"]', "[]"],
                            "languages": ['["en"]', '["en"]'], "price_minor": [4000, 9000], "currency": ["USD", "USD"],
                            "session_minutes": [60, 60], "status": ["approved", "approved"], "rating_count": [0, 0],
                            "rating_sum": [0, 0], "created_at": [at(0), at(0)], "updated_at": [at(0), at(0)]})
    bookings = pd.DataFrame({
        "id": [1, 2, 3],
        "learner_id": [10, 10, 11],
        "mentor_id": [20, 20, 20],
        "topic_id": [1, 1, 1],
        "created_at": [at(1), at(40), at(50)],
        "updated_at": [at(1, 2), at(40, 2), at(50, 2)],
        "starts_at": [at(3), at(42), at(52)],
        "ends_at": [at(3, 1), at(42, 1), at(52, 1)],
        "status": ["completed", "completed", "rejected"],
        "price_minor": [4000, 6000, 4000],
        "currency": ["USD"] * 3,
    })
    reviews = pd.DataFrame({"id": [1, 2], "booking_id": [1, 2], "learner_id": [10, 10], "mentor_id": [20, 20],
                            "rating": [5, 3], "hidden": [False, False], "created_at": [at(4), at(43)]})
    return {"topics": topics, "learners": learners, "mentors": mentors, "bookings": bookings, "reviews": reviews,
            "learner_topics": pd.DataFrame({"learner_id": [10], "topic_id": [1]}),
            "mentor_topics": pd.DataFrame({"mentor_id": [20, 21], "topic_id": [1, 2]})}


@pytest.fixture
def events() -> pd.DataFrame:
    rows = [
        (1, at(1, -1), "search", 10, None, None),
        (2, at(1, -0.5), "profile_view", 10, 20, None),
        (3, at(35), "search", 10, None, None),
        (4, at(39), "profile_view", 10, 20, None),
        (5, at(39, 1), "profile_view", 10, 21, None),
        (6, at(1, 2), "booking_outcome", 10, 20, 1),
    ]
    frame = pd.DataFrame(rows, columns=["id", "occurred_at", "event_type", "user_id", "mentor_id", "booking_id"])
    for c in ("user_id", "mentor_id", "booking_id"):
        frame[c] = frame[c].astype("Int64")
    return frame


def row_at(table: pd.DataFrame, key: str, value: int, when: pd.Timestamp) -> pd.Series:
    """The feature row a point-in-time join would pick: the latest at or before `when`."""
    rows = table[(table[key] == value) & (table["event_timestamp"] <= when)]
    return rows.sort_values("event_timestamp").iloc[-1]


def test_learner_features_count_windows_and_averages(records, events):
    table = compute.learner_features(records["learners"], records["learner_topics"], records["topics"],
                                      records["bookings"], records["reviews"], events)
    after_second_booking = row_at(table, "learner_id", 10, at(44))
    assert after_second_booking["bookings_90d"] == 2
    assert after_second_booking["bookings_30d"] == 1  # the first booking (day 1) is 43 days old
    assert after_second_booking["searches_90d"] == 2 and after_second_booking["searches_30d"] == 1
    assert after_second_booking["views_30d"] == 2 and after_second_booking["views_90d"] == 3
    assert after_second_booking["avg_price_booked"] == pytest.approx(5000.0)
    assert after_second_booking["price_band"] == 3  # 50.00 <= average < 100.00
    assert after_second_booking["completed_sessions"] == 2
    assert after_second_booking["avg_rating_given"] == pytest.approx(4.0)
    assert after_second_booking["interest_topics"] == "python"
    assert "data science" in after_second_booking["interests_text"]
    at_signup = row_at(table, "learner_id", 11, at(0, 1))
    assert at_signup["bookings_90d"] == 0 and at_signup["price_band"] == 0


def test_mentor_activity_ratings_popularity_and_rates(records, events):
    table = compute.mentor_activity(records["mentors"], records["bookings"], records["reviews"], events)
    after_first_review = row_at(table, "mentor_id", 20, at(5))
    assert after_first_review["rating_count"] == 1 and after_first_review["rating_avg"] == 5.0
    assert after_first_review["rating_bayes"] == pytest.approx((5 * 4.0 + 5) / 6)
    assert after_first_review["popularity_90d"] == 1
    assert after_first_review["response_rate"] == 1.0 and after_first_review["acceptance_rate"] == 1.0
    later = row_at(table, "mentor_id", 20, at(60))
    assert later["rating_count"] == 2 and later["rating_avg"] == pytest.approx(4.0)
    assert later["acceptance_rate"] == pytest.approx(2 / 3)  # the third request was rejected
    untouched = row_at(table, "mentor_id", 21, at(60))
    assert untouched["rating_count"] == 0 and np.isnan(untouched["rating_avg"])
    assert untouched["rating_bayes"] == pytest.approx(4.0)


def test_rating_after_the_label_time_is_not_visible(records, events):
    table = compute.learner_mentor(records["bookings"], records["reviews"], events)
    # the learner booked on day 40; the review of that session (3 stars) came on day 43
    at_second_booking = row_at(table, "learner_id", 10, at(40, 1))
    assert at_second_booking["last_rating"] == 5.0 and at_second_booking["bookings"] == 2
    assert row_at(table, "learner_id", 10, at(43, 1))["last_rating"] == 3.0


def test_mentor_profile_text_and_interactions(records, events):
    profile = compute.mentor_profile(records["mentors"], records["mentor_topics"], records["topics"])
    first = profile.set_index("mentor_id").loc[20]
    assert first["topics"] == "python" and "Engineer at Acme" in first["text"] and first["price_minor"] == 4000
    labels = compute.interactions(records["bookings"], records["reviews"])
    assert len(labels) == 5 and labels["rating"].notna().sum() == 2


@pytest.mark.slow
def test_feast_historical_features_are_point_in_time_correct(tmp_path, records, events):
    """Through Feast itself: a rating given after the entity timestamp never reaches the training row."""
    from features.definitions import LEARNER_MENTOR, MENTOR_ACTIVITY, feature_refs
    from features.store import apply_definitions, feature_data_dir, make_store

    tables = compute.compute_all(records, events)
    data_dir = feature_data_dir(tmp_path)
    data_dir.mkdir(parents=True)
    for name in ("learner_features", "mentor_activity", "mentor_profile", "learner_mentor"):
        tables[name].to_parquet(data_dir / f"{name}.parquet", index=False)
    store = make_store(tmp_path)
    apply_definitions(store, tmp_path)
    entity_df = pd.DataFrame({"learner_id": [10, 10], "mentor_id": [20, 20],
                              "event_timestamp": [at(40, 1), at(44)]})
    frame = store.get_historical_features(
        entity_df=entity_df, features=feature_refs(LEARNER_MENTOR) + feature_refs(MENTOR_ACTIVITY)).to_df()
    frame = frame.sort_values("event_timestamp").reset_index(drop=True)
    assert frame["last_rating"].tolist() == [5.0, 3.0]  # day 43's rating is invisible on day 40
    assert frame["rating_count"].tolist() == [1, 2]
    store.materialize_incremental(end_date=datetime.now(timezone.utc))
    online = store.get_online_features(features=feature_refs(MENTOR_ACTIVITY),
                                       entity_rows=[{"mentor_id": 20}]).to_dict()
    assert online["rating_count"] == [2]
