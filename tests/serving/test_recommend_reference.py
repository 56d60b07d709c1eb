"""The request path's fast code (serving.recommend) against straightforward reference implementations: the same
picks, order, scores, reasons and tie semantics on random catalogues, edge cases included."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from serving.recommend import (
    DEFAULT_WEIGHTS,
    Catalogue,
    Learner,
    _percentile,
    co_booking,
    interest_overlap,
    recommend,
    rerank,
    score_candidates,
)

# ---------------------------------------------------------------- references (the plain numpy/scipy versions)


def ref_percentile(values):
    out = np.zeros(values.shape)
    finite = np.isfinite(values)
    n = int(finite.sum())
    if n == 0:
        return out
    kept = values[finite]
    order = np.argsort(kept, kind="stable")
    ordered = kept[order]
    ranks = np.empty(n)
    for j in range(n):  # the first position of each run of equal values
        ranks[order[j]] = j if j == 0 or ordered[j] != ordered[j - 1] else ranks[order[j - 1]]
    out[finite] = ranks / max(n - 1, 1)
    return out


def ref_overlap(learner, cat, index):
    cols = [t for t in learner.interest_topics if t < cat.topic_rows.shape[0]]
    if not cols:
        return np.zeros(len(index))
    return cat.topic_rows.T[:, cols].sum(axis=1, dtype=np.float64)[index]


def ref_rerank(base, learner, cat, index, free_soon, weights, k, exclude_booked=False):
    if len(index) == 0 or k <= 0:
        return []
    pop = cat.log_popularity[index]
    pop = pop / pop.max() if pop.max() > 0 else pop
    overlap = np.minimum(ref_overlap(learner, cat, index), 1.0)
    score = (weights["model"] * base + weights["availability"] * free_soon.astype(float)
             + weights["popularity"] * pop + weights["new_mentor"] * cat.is_new[index].astype(float)
             + weights["interest"] * overlap)
    if exclude_booked and learner.booked:
        score = np.where(np.isin(cat.mentor_ids[index], np.asarray(learner.booked, dtype=np.int64)), -np.inf, score)
    short = min(len(index), max(k * 5, 50))
    top = np.argpartition(-score, short - 1)[:short] if short < len(index) else np.arange(len(index))
    top = top[np.argsort(-score[top], kind="stable")]
    top = top[np.isfinite(score[top])]
    topics = cat.topic_rows.T[index[top]]
    shared = (topics @ topics.T) > 0
    chosen, sharing, w_div, scores = [], np.zeros(len(top)), weights["diversity"], score[top]
    with np.errstate(invalid="ignore"):
        for _ in range(min(k, len(top))):
            adjusted = scores - sharing / len(chosen) * w_div if chosen and w_div else scores.copy()
            if chosen:
                adjusted[chosen] = -np.inf
            best = int(np.argmax(adjusted))
            chosen.append(best)
            sharing += shared[:, best]
    return [(int(index[top[c]]), float(score[top[c]])) for c in chosen]


def ref_co_booking(learner, cat, positions):
    booked = [cat.position[m] for m in learner.booked if m in cat.position]
    if cat.bookings is None or not booked or not positions:
        return {}
    both = (cat.bookings[:, booked].T @ cat.bookings[:, list(positions)]).toarray()
    out = {}
    for j, pos in enumerate(positions):
        if cat.mentor_ids[pos] in learner.booked:
            continue
        i = int(np.argmax(both[:, j]))
        if both[i, j] > 0:
            out[pos] = (int(cat.mentor_ids[booked[i]]), int(both[i, j]))
    return out


# ---------------------------------------------------------------- a random world


def random_catalogue(rng, n=400, n_topics=12, n_learners=300):
    ids = np.sort(rng.choice(np.arange(10, 5000), n, replace=False)).astype(np.int64)
    topics = [tuple(int(t) for t in rng.integers(1, n_topics + 1, rng.integers(0, 4))) for _ in range(n)]
    topics[0] = (3, 3)  # a topic twice counts twice in the overlap
    rows = rng.integers(0, n_learners, 4 * n)
    cols = rng.choice(n, 4 * n, p=np.r_[np.full(10, 0.05), np.full(n - 10, 0.5 / (n - 10))])
    bookings = sp.csc_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_learners, n))
    bookings.sum_duplicates()
    bookings.data = np.minimum(bookings.data, 1.0)
    return Catalogue(mentor_ids=ids, names=[f"M{i}" for i in range(n)], topics=topics,
                     topic_names={t: f"T{t}" for t in range(1, n_topics + 1)},
                     rating_avg=np.where(rng.random(n) < 0.3, np.nan, np.round(rng.uniform(3, 5, n), 1)),
                     rating_count=rng.integers(0, 9, n).astype(float),
                     popularity=rng.integers(0, 4, n).astype(float), is_new=rng.random(n) < 0.1, bookings=bookings)


def random_learner(rng, cat):
    booked = tuple(int(m) for m in rng.choice(cat.mentor_ids, rng.integers(0, 6)))
    if booked and rng.random() < 0.2:
        booked += booked[:1]  # the same mentor twice
    interests = tuple(int(t) for t in rng.integers(0, 16, rng.integers(0, 4)))  # some beyond the catalogue's
    return Learner(id=int(rng.integers(1, 100)), interest_topics=interests,
                   booked=booked + ((999_999,) if rng.random() < 0.2 else ()))


def random_weights(rng):
    weights = dict(DEFAULT_WEIGHTS)
    if rng.random() < 0.5:
        weights = {key: float(rng.choice([0.0, 1.0, rng.random(), 2 * rng.random() - 0.5])) for key in weights}
    if rng.random() < 0.1:
        weights["diversity"] = float(rng.choice([-0.5, 0.0, -0.0, 50.0, 1e200, np.inf, np.nan]))
    return weights


def random_index(rng, cat):
    index = np.flatnonzero(rng.random(len(cat)) < rng.choice([1.0, 0.5, 0.05]))
    draw = rng.random()
    if draw < 0.2:  # unsorted, with a few repeats
        index = rng.permutation(np.concatenate([index, index[:5]]))
    elif draw < 0.4:  # sorted, every position twice
        index = np.repeat(index, 2)
    return index


def coarse_base(rng, n):
    """Model-like percentiles with many ties (coarse raw scores, some unknown)."""
    raw = np.round(rng.normal(size=n), 1)
    raw[rng.random(n) < 0.1] = np.nan
    return _percentile(raw)


# ---------------------------------------------------------------- the tests


def test_percentile_matches_the_reference_with_ties_nan_and_infinities():
    rng = np.random.default_rng(1)
    cases = [np.array([]), np.array([np.nan]), np.array([2.0]), np.array([-0.0, 0.0, np.inf, -np.inf, 1.0, np.nan])]
    for _ in range(300):
        n = int(rng.integers(0, 400))
        values = rng.integers(0, int(rng.integers(1, 30)), n).astype(float)
        values[rng.random(n) < 0.1] = np.nan
        values[rng.random(n) < 0.03] = rng.choice([np.inf, -np.inf])
        cases.append(values)
    for values in cases:
        got = _percentile(values)
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, ref_percentile(values))


def test_interest_overlap_matches_the_reference():
    rng = np.random.default_rng(2)
    cat = random_catalogue(rng)
    for _ in range(200):
        learner = random_learner(rng, cat)
        index = random_index(rng, cat)
        got = interest_overlap(learner, cat, index)
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, ref_overlap(learner, cat, index))
    assert interest_overlap(Learner(id=1, interest_topics=(3,)), cat, np.array([0]))[0] == 2.0  # (3, 3)


@pytest.mark.parametrize("seed", range(4))
def test_rerank_matches_the_reference_greedy(seed):
    rng = np.random.default_rng(seed)
    cat = random_catalogue(rng)
    for _ in range(150):
        learner, index, weights = random_learner(rng, cat), random_index(rng, cat), random_weights(rng)
        base = coarse_base(rng, len(index))
        free = rng.random(len(index)) < 0.3
        k = int(rng.choice([0, 1, 5, 10, 12, 60]))
        exclude = bool(rng.random() < 0.3)
        with np.errstate(invalid="ignore"):
            got = rerank(base, learner, cat, index, free, weights, k, exclude)
        assert got == ref_rerank(base, learner, cat, index, free, weights, k, exclude)


def test_co_booking_matches_the_sparse_product():
    rng = np.random.default_rng(5)
    cat = random_catalogue(rng)
    for _ in range(300):
        learner = random_learner(rng, cat)
        if rng.random() < 0.5:  # booked the popular mentors: counts of several learners, ties between them
            learner.booked = tuple(int(m) for m in cat.mentor_ids[rng.choice(12, 4)])
        positions = [int(p) for p in rng.choice(len(cat), int(rng.integers(0, 12)), replace=False)]
        assert co_booking(learner, cat, positions) == ref_co_booking(learner, cat, positions)
    # the bookings replaced after the catalogue was made: the co-booking table follows
    cat.bookings = random_catalogue(rng).bookings
    for _ in range(50):
        learner = Learner(id=1, booked=tuple(int(m) for m in cat.mentor_ids[rng.choice(12, 3)]))
        positions = [int(p) for p in rng.choice(len(cat), 8, replace=False)]
        assert co_booking(learner, cat, positions) == ref_co_booking(learner, cat, positions)
    cat.bookings = sp.csc_matrix(cat.bookings.shape)
    assert co_booking(Learner(id=1, booked=(int(cat.mentor_ids[0]),)), cat, [1, 2]) == {}


def test_cold_start_scores_match_the_reference_orderings():
    """Interests then popularity, and popularity then rating (no model, or a learner it does not know): the
    counted ranks are the percentiles of the plain float keys, ties and unrated mentors included."""
    from dataclasses import replace

    rng = np.random.default_rng(8)
    narrow = random_catalogue(rng)  # a few popularity levels: many ties
    wide = replace(narrow, popularity=rng.integers(0, 5000, len(narrow)).astype(float))
    seen = set()
    for cat in (narrow, wide):
        for _ in range(150):
            learner, index = random_learner(rng, cat), random_index(rng, cat)
            base, raw, source = score_candidates(None, learner, cat, index)
            pop = cat.log_popularity[index]
            if source == "cold_start_interests":
                expected = ref_percentile(ref_overlap(learner, cat, index) * 10 + pop / (pop.max() + 1))
            else:
                assert source == "popularity" and raw is None
                expected = ref_percentile(pop + 1e-3 * np.nan_to_num(cat.rating_avg[index]))
            np.testing.assert_array_equal(base, expected)
            seen.add(source)
    assert seen == {"cold_start_interests", "popularity"}


class _Model:
    """Raw scores with ties and unknown mentors (NaN)."""

    version = "3"

    def knows(self, learner_id):
        return learner_id % 5 != 0

    def scores(self, learner_id, ids):
        raw = ((ids * 7 + learner_id) % 11).astype(float)
        return np.where(ids % 13 == 0, np.nan, raw)


def test_recommend_matches_the_reference_and_reads_each_picks_slot():
    """Picks, scores and model scores as the reference re-ranking gives them; with unsorted or repeated
    candidate positions, a pick's raw score and availability come from the last slot of its position."""
    rng = np.random.default_rng(6)
    cat = random_catalogue(rng)
    model = _Model()
    for _ in range(200):
        learner, index = random_learner(rng, cat), random_index(rng, cat)
        learner.id = int(rng.integers(1, 100)) * 5 + 1  # known to the model
        free = rng.random(len(index)) < 0.5
        ranked = recommend(model, learner, cat, index, free, DEFAULT_WEIGHTS, 10)
        raw = model.scores(learner.id, cat.mentor_ids[index])
        expected = ref_rerank(ref_percentile(raw), learner, cat, index, free, DEFAULT_WEIGHTS, 10)
        assert ranked.source == "model"
        assert [(cat.position[p.mentor_id], p.score) for p in ranked.picks] == \
            [(pos, round(score, 6)) for pos, score in expected]
        slot = np.full(len(cat), -1)
        slot[index] = np.arange(len(index))
        for pick in ranked.picks:
            i = slot[cat.position[pick.mentor_id]]
            assert pick.model_score == (raw[i] if math.isfinite(raw[i]) else None)
            if pick.reason_kind in ("availability", "rating"):
                assert ("ree this week" in pick.reason) == bool(free[i])


def test_candidate_index_topic_and_price_filters_match_the_reference():
    from datetime import datetime, timezone

    from api.recommendations.engine import candidate_index
    from api.recommendations.snapshot import LearnerIndex, Snapshot
    from api.search.filters import SearchFilters

    rng = np.random.default_rng(7)
    cat = random_catalogue(rng)
    bundle = Snapshot(catalogue=cat, prices=rng.integers(1000, 9000, len(cat)).astype(float),
                      currencies=["USD"] * len(cat), zones=[], learners=LearnerIndex({}, 0, 0.0), built=0.0)
    now = datetime(2024, 5, 1, tzinfo=timezone.utc)
    assert np.array_equal(candidate_index(bundle, None, now), np.arange(len(cat)))
    for _ in range(100):
        topics = tuple(int(t) for t in rng.integers(0, 16, rng.integers(0, 3)))
        low = int(rng.integers(0, 9000)) if rng.random() < 0.5 else None
        high = int(rng.integers(0, 9000)) if rng.random() < 0.5 else None
        got = candidate_index(bundle, SearchFilters(topic_ids=topics, price_min_minor=low, price_max_minor=high), now)
        mask = np.ones(len(cat), bool)
        if topics:
            cols = [t for t in topics if t < cat.topic_rows.shape[0]]
            mask &= cat.topic_rows.T[:, cols].sum(axis=1) > 0 if cols else False
        if low is not None:
            mask &= bundle.prices >= low
        if high is not None:
            mask &= bundle.prices <= high
        assert got.dtype == np.int64 and np.array_equal(got, np.flatnonzero(mask))


def test_loaded_model_scores_match_the_lookup_reference(tmp_path):
    """Mentor ids to model scores: NaN for mentors the model never saw, ids outside the lookup included."""
    import pandas as pd

    from serving import bootstrap
    from serving.registry import LoadedModel

    rng = np.random.default_rng(8)
    frame = pd.DataFrame({"user_id": rng.integers(1, 40, 400), "item_id": rng.integers(100, 160, 400),
                          "rating": rng.integers(1, 6, 400).astype(float), "timestamp": np.arange(400)})
    loaded = LoadedModel(version="1", family="svd", recommender=bootstrap.fit("svd", frame))

    def reference(learner_id, ids):
        full = loaded.recommender.score_batch([learner_id])[0]
        index = np.full(ids.shape, -1)
        inside = (ids >= 0) & (ids < loaded._lookup.size)
        index[inside] = loaded._lookup[ids[inside]]
        out = np.full(ids.shape, np.nan)
        out[index >= 0] = full[index[index >= 0]]
        return out

    for ids in (np.arange(90, 170), np.array([150, 100, 5]), np.array([-1, 120, 10**9]), np.array([], dtype=np.int64)):
        for learner_id in (3, 17, 10**6):  # known, known, unknown (popularity)
            got = loaded.scores(learner_id, ids)
            assert got.dtype == np.float64
            np.testing.assert_array_equal(got, reference(learner_id, ids))
