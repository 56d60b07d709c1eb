"""A/B assignment and statistics (pure functions; no database, no model)."""
from __future__ import annotations

import math

import pytest

from serving import ab

ARMS = [ab.ArmSpec(id=1, name="control", traffic_share=0.5, model_alias="champion", experiment_id=7),
        ab.ArmSpec(id=2, name="challenger", traffic_share=0.3, model_alias="challenger", experiment_id=7),
        ab.ArmSpec(id=3, name="diverse", traffic_share=0.2, model_alias="champion", experiment_id=7,
                   rerank_weights={"diversity": 0.6})]


def test_assignment_is_stable_and_matches_the_split_over_10000_learners():
    counts = {arm.name: 0 for arm in ARMS}
    first = {}
    for learner in range(1, 10_001):
        arm = ab.assign_arm(learner, 7, ARMS)
        counts[arm.name] += 1
        first[learner] = arm.name
    assert all(ab.assign_arm(learner, 7, list(reversed(ARMS))).name == first[learner] for learner in range(1, 2001))
    for arm in ARMS:  # each count within 4 binomial standard deviations of n * share
        mean = 10_000 * arm.traffic_share
        sd = math.sqrt(10_000 * arm.traffic_share * (1 - arm.traffic_share))
        assert abs(counts[arm.name] - mean) < 4 * sd, counts
    chi2 = sum((counts[a.name] - 10_000 * a.traffic_share) ** 2 / (10_000 * a.traffic_share) for a in ARMS)
    assert chi2 < 13.8  # chi-square, 2 degrees of freedom, p = 0.001
    # another experiment reshuffles: about half the control learners land elsewhere
    moved = sum(ab.assign_arm(learner, 8, ARMS).name != first[learner] for learner in range(1, 10_001))
    assert 5_000 < moved < 7_000


def test_shares_below_one_leave_learners_out_and_a_stopped_arm_goes_to_control():
    half = [ab.ArmSpec(id=1, name="a", traffic_share=0.25, model_alias="champion"),
            ab.ArmSpec(id=2, name="b", traffic_share=0.25, model_alias="challenger")]
    outside = sum(ab.assign_arm(learner, 1, half) is None for learner in range(10_000))
    assert 4_700 < outside < 5_300
    stopped = [ARMS[0], ab.ArmSpec(**{**ARMS[1].__dict__, "active": False}), ARMS[2]]
    for learner in range(1, 3000):
        before, after = ab.assign_arm(learner, 7, ARMS), ab.assign_arm(learner, 7, stopped)
        if before.name == "challenger":
            assert after.name == "control"
        else:
            assert after.name == before.name  # nobody else moves


def test_two_proportion_ztest_against_known_values():
    # control 200/1000, treatment 250/1000: R's prop.test(correct=FALSE) gives X-squared = 7.1685, p = 0.00742
    test = ab.two_proportion_ztest(200, 1000, 250, 1000)
    assert test.z == pytest.approx(2.677398, abs=1e-5)
    assert test.z ** 2 == pytest.approx(7.1685, abs=1e-3)
    assert test.p_value == pytest.approx(0.007419, abs=1e-5)
    assert test.diff == pytest.approx(0.05)
    larger = ab.two_proportion_ztest(200, 1000, 250, 1000, alternative="larger")
    assert larger.p_value == pytest.approx(0.003710, abs=1e-5)
    smaller = ab.two_proportion_ztest(200, 1000, 250, 1000, alternative="smaller")
    assert smaller.p_value == pytest.approx(1 - 0.003710, abs=1e-5)
    # 30/100 vs 45/100: pooled 0.375, se = sqrt(0.375 * 0.625 * 0.02) = 0.0684653, z = 2.190890; p from scipy
    from scipy.stats import norm

    hand = ab.two_proportion_ztest(30, 100, 45, 100)
    assert hand.z == pytest.approx(0.15 / math.sqrt(0.375 * 0.625 * 0.02), rel=1e-9)
    assert hand.p_value == pytest.approx(2 * norm.sf(2.190890), abs=1e-6)
    same = ab.two_proportion_ztest(10, 100, 10, 100)
    assert same.z == 0 and same.p_value == pytest.approx(1.0)
    with pytest.raises(ValueError):
        ab.two_proportion_ztest(1, 0, 1, 10)


def test_confidence_intervals_against_known_values():
    assert ab.wilson_interval(50, 100) == pytest.approx((0.40383, 0.59617), abs=1e-5)
    assert ab.wilson_interval(0, 10) == pytest.approx((0.0, 0.27753), abs=1e-5)
    assert ab._norm_ppf(0.975) == pytest.approx(1.959964, abs=1e-6)
    mean, low, high = ab.mean_interval(total=10.0, total_sq=24.0, n=5)  # values 1,1,2,3,3: sd = 1
    assert mean == 2.0 and (low, high) == pytest.approx((2 - 1.959964 / math.sqrt(5), 2 + 1.959964 / math.sqrt(5)))


def test_percentile_ranks_ties_equally_and_unknowns_last():
    import numpy as np

    from serving.recommend import _percentile

    values = np.array([3.0, 1.0, 2.0, np.nan, 2.0, 5.0])
    np.testing.assert_allclose(_percentile(values), [0.75, 0.0, 0.25, 0.0, 0.25, 1.0])
    shuffled = np.random.default_rng(0).permutation(1000).astype(float)
    np.testing.assert_allclose(_percentile(shuffled), shuffled / 999)
    assert not _percentile(np.array([np.nan, np.nan])).any()
