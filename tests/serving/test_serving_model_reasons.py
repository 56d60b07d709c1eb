"""Serving shows the learning-to-rank model's own reasons (its strongest features) for the picks it scored."""
from __future__ import annotations

import numpy as np
import pandas as pd

from models.constants import CATEGORIES_COL, ITEM_COL, RATING_COL, TIMESTAMP_COL, USER_COL


def _world():
    rng = np.random.default_rng(5)
    topics = ["python", "design", "sql"]
    n_mentors, n_learners = 18, 60
    topic = np.arange(n_mentors) % 3
    items = pd.DataFrame({ITEM_COL: np.arange(1, n_mentors + 1), CATEGORIES_COL: [[topics[t]] for t in topic]})
    interest = rng.integers(0, 3, n_learners)
    users = pd.DataFrame({USER_COL: np.arange(100, 100 + n_learners), CATEGORIES_COL: [[topics[t]] for t in interest]})
    rows = []
    for u in range(n_learners):
        liked = np.flatnonzero(topic == interest[u])
        for n, m in enumerate(rng.permutation(liked)[:4].tolist()):
            rows.append((100 + u, m + 1, 5.0, int(rng.integers(0, 1000))))
    interactions = pd.DataFrame(rows, columns=[USER_COL, ITEM_COL, RATING_COL, TIMESTAMP_COL])
    return interactions, users, items, topic, topics


def test_picks_scored_by_the_ranker_carry_its_own_reasons():
    from models.ltr import LearningToRankRecommender
    from serving.recommend import DEFAULT_WEIGHTS, Catalogue, Learner, recommend
    from serving.registry import LoadedModel

    interactions, users, items, topic, topics = _world()
    ranker = LearningToRankRecommender(n_estimators=30, n_negatives=8).fit(interactions, users=users, items=items)
    loaded = LoadedModel(version="3", family="ltr", recommender=ranker)
    n = len(items)
    catalogue = Catalogue(mentor_ids=items[ITEM_COL].to_numpy(np.int64), names=[f"M{i}" for i in range(n)],
                          topics=[(int(t),) for t in topic], topic_names=dict(enumerate(topics)),
                          rating_avg=np.full(n, np.nan), rating_count=np.zeros(n), popularity=np.zeros(n),
                          is_new=np.zeros(n, bool))
    learner = Learner(id=100)
    ranked = recommend(loaded, learner, catalogue, np.arange(n), np.zeros(n, bool), dict(DEFAULT_WEIGHTS), k=5)
    assert ranked.source == "model" and len(ranked.picks) == 5
    own = ranker.reasons(100, [p.mentor_id for p in ranked.picks])
    for pick, reasons in zip(ranked.picks, own):
        if reasons:
            assert pick.reason == reasons[0].text and pick.reason_kind == f"model:{reasons[0].feature}"
    assert any(p.reason_kind.startswith("model:") for p in ranked.picks)
    # a learner the model never saw is not explained by it (the rule-based reasons instead)
    stranger = recommend(loaded, Learner(id=10**6), catalogue, np.arange(n), np.zeros(n, bool),
                         dict(DEFAULT_WEIGHTS), k=3)
    assert not any(p.reason_kind.startswith("model:") for p in stranger.picks)
