"""The learning-to-rank family: ranks by what learners weigh, falls back for strangers, explains with its features."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.constants import (
    CATEGORIES_COL, EXPERIENCE_COL, ITEM_COL, LANGUAGES_COL, PRICE_COL, RATING_COL, TEXT_COL, TIMESTAMP_COL,
    USER_COL, UTC_OFFSET_COL, WEEK_HOURS_COL,
)

TOPICS = ["python", "design", "sql", "spanish", "guitar", "marketing"]


@pytest.fixture(scope="module")
def world() -> dict:
    """Mentors with one topic each; learners book mentors of their interests, at a price near their budget."""
    rng = np.random.default_rng(3)
    n_mentors, n_learners = 36, 120
    topic = np.arange(n_mentors) % len(TOPICS)
    price = rng.choice([2_000, 4_000, 8_000], size=n_mentors).astype(float)
    items = pd.DataFrame({
        ITEM_COL: np.arange(1, n_mentors + 1),
        CATEGORIES_COL: [[TOPICS[t]] for t in topic],
        TEXT_COL: [f"{TOPICS[t]} mentor number {m}" for m, t in enumerate(topic)],
        PRICE_COL: price,
        EXPERIENCE_COL: rng.integers(1, 20, size=n_mentors).astype(float),
        LANGUAGES_COL: [["en"] if m % 3 else ["en", "es"] for m in range(n_mentors)],
        UTC_OFFSET_COL: rng.choice([-5.0, 0.0, 1.0, 5.5], size=n_mentors),
        WEEK_HOURS_COL: [list(range(24 * (m % 7) + 8, 24 * (m % 7) + 18)) for m in range(n_mentors)],
    })
    interests = [sorted({int(rng.integers(len(TOPICS))), int(rng.integers(len(TOPICS)))}) for _ in range(n_learners)]
    budget = rng.choice([2_000, 4_000, 8_000], size=n_learners).astype(float)
    users = pd.DataFrame({
        USER_COL: np.arange(1001, 1001 + n_learners),
        CATEGORIES_COL: [[TOPICS[t] for t in ts] for ts in interests],
        TEXT_COL: [" ".join(TOPICS[t] for t in ts) for ts in interests],
        UTC_OFFSET_COL: rng.choice([-5.0, 0.0, 1.0], size=n_learners),
        WEEK_HOURS_COL: [list(range(24 * (u % 7) + 9, 24 * (u % 7) + 12)) for u in range(n_learners)],
    })
    rows, shown = [], []
    for u in range(n_learners):
        match = np.isin(topic, interests[u]).astype(float)
        utility = 3.0 * match - 1.5 * np.abs(np.log(price / budget[u])) + 0.5 * rng.gumbel(size=n_mentors)
        booked = np.argsort(-utility)[:6]
        times = np.sort(rng.uniform(0, 1_000_000, size=len(booked)))
        for m, t in zip(booked.tolist(), times.tolist()):
            rows.append((1001 + u, m + 1, 4.0 + float(rng.integers(0, 2)), int(t)))
        # shown but not booked: the most popular-looking mentors outside the learner's interests
        for m in np.flatnonzero(match == 0)[:4].tolist():
            shown.append((1001 + u, m + 1, int(times[-1])))
    interactions = pd.DataFrame(rows, columns=[USER_COL, ITEM_COL, RATING_COL, TIMESTAMP_COL])
    exposures = pd.DataFrame(shown, columns=[USER_COL, ITEM_COL, TIMESTAMP_COL])
    return {"interactions": interactions, "users": users, "items": items, "exposures": exposures,
            "interests": interests, "topic": topic}


def _fit(world, **params):
    from models.ltr import LearningToRankRecommender

    params = {"n_estimators": 60, "n_negatives": 12, **params}
    return LearningToRankRecommender(**params).fit(world["interactions"], users=world["users"],
                                                   items=world["items"], exposures=world["exposures"])


@pytest.fixture(scope="module")
def model(world):
    return _fit(world)


def test_constructor_only_stores_hyperparameters():
    from models.ltr import LearningToRankRecommender

    model = LearningToRankRecommender(n_negatives=7)
    assert model.get_params()["n_negatives"] == 7
    assert not [k for k in vars(model) if k.endswith("_")]


def test_fit_returns_self_and_learns_from_booked_and_exposed_mentors(world):
    from models.ltr import LearningToRankRecommender

    model = LearningToRankRecommender(n_estimators=20, n_negatives=12)
    assert model.fit(world["interactions"], users=world["users"], items=world["items"],
                     exposures=world["exposures"]) is model
    assert model.training_groups_ > 10 and model.exposure_negatives_ > 0
    assert model.training_rows_ > model.training_groups_


def test_ranks_mentors_of_the_learners_interests_first(world, model):
    hits = []
    for n, user in enumerate(world["users"][USER_COL].tolist()):
        top = [m for m, _ in model.recommend(user, k=3)]
        hits += [world["topic"][m - 1] in world["interests"][n] for m in top]
    assert np.mean(hits) > 0.8
    scores = model.score(1001)
    assert scores.shape == (len(world["items"]),) and np.isfinite(scores).all()


def test_beats_popularity_on_each_learners_last_bookings(world):
    from models.ltr import LearningToRankRecommender
    from models.metrics import mean_ranking_metrics
    from models.popularity import PopularityRecommender

    data = world["interactions"].sort_values(TIMESTAMP_COL)
    last = data.groupby(USER_COL).tail(2)
    train = data.drop(last.index)
    relevant = last.groupby(USER_COL)[ITEM_COL].agg(set).to_dict()

    def precision(model):
        recs = {u: [m for m, _ in model.recommend(u, k=5)] for u in relevant}
        return mean_ranking_metrics(recs, relevant, 5)["precision_at_5"]

    ltr = LearningToRankRecommender(n_estimators=60, n_negatives=12).fit(
        train, users=world["users"], items=world["items"], exposures=world["exposures"])
    popularity = PopularityRecommender().fit(train, items=world["items"])
    assert precision(ltr) > 1.5 * precision(popularity)


def test_unknown_users_and_items_fall_back(model):
    unknown = model.score_batch([-1], model.item_ids_.tolist())[0]
    np.testing.assert_array_equal(unknown, model.item_counts_)  # popularity in its training data
    scores = model.score(1001, [1, 2, 999_999])
    assert scores[2] < scores[:2].min()
    assert model.recommend(-1, k=3)
    assert model.reasons(-1, [1, 2]) == [[], []]  # no model reasons for a stranger


def test_reasons_are_the_strongest_features(world, model):
    from models.ltr import FEATURES

    user, items = 1001, model.item_ids_.tolist()
    x, contrib = model.contributions(user, items)
    # contributions add up (with the bias) to the model's score
    bias = model._booster().predict(x[:1], pred_contrib=True)[0, -1]
    np.testing.assert_allclose(contrib.sum(axis=1) + bias, model.score(user, items), rtol=1e-6, atol=1e-6)
    top = [m for m, _ in model.recommend(user, k=5)]
    for mentor, reasons in zip(top, model.reasons(user, top, top=2)):
        assert reasons, "every pick has a reason"
        row = contrib[items.index(mentor)]
        strongest = [FEATURES[f] for f in np.argsort(-row, kind="stable")[:len(reasons)] if row[f] > 0]
        assert [r.feature for r in reasons] == strongest
        assert all(r.text and r.contribution > 0 for r in reasons)
    picked = model.reasons(user, top)[0]
    topic = world["topic"][top[0] - 1]
    if any(r.feature == "interest_overlap" for r in picked):
        assert f"Matches your interest in {TOPICS[topic]}" in [r.text for r in picked]


def test_deterministic_with_the_fixed_seed(world, model):
    again = _fit(world)
    np.testing.assert_array_equal(model.score_batch([1001, 1002]), again.score_batch([1001, 1002]))
    other = _fit(world, seed=7)
    assert not np.array_equal(model.score_batch([1001, 1002]), other.score_batch([1001, 1002]))


def test_works_without_side_information_or_exposures(world):
    from models.ltr import LearningToRankRecommender

    model = LearningToRankRecommender(n_estimators=20, n_negatives=8).fit(world["interactions"])
    assert model.exposure_negatives_ == 0
    assert np.isfinite(model.score(1001)).all()


def test_too_little_data_is_a_clear_error():
    from models.ltr import LearningToRankRecommender

    one = pd.DataFrame({USER_COL: [1], ITEM_COL: [1], RATING_COL: [5.0], TIMESTAMP_COL: [0]})
    with pytest.raises(ValueError):
        LearningToRankRecommender().fit(one)


def test_booking_rate_is_bookings_per_exposure_and_missing_without_exposures(world, model):
    from models.ltr import RATE_PRIOR_WEIGHT, LearningToRankRecommender

    rate = model.state_["booking_rate"]
    shown = np.bincount(world["exposures"][ITEM_COL].map(model.item_index_), minlength=len(model.item_ids_))
    counts = model.item_counts_
    np.testing.assert_allclose(rate, (counts + RATE_PRIOR_WEIGHT * counts.sum() / shown.sum())
                               / (shown + RATE_PRIOR_WEIGHT))
    blind = LearningToRankRecommender(n_estimators=20, n_negatives=8).fit(world["interactions"])
    assert np.isnan(blind.state_["booking_rate"]).all()
