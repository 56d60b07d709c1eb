import math

import pytest

from models.metrics import (
    catalogue_coverage,
    mae,
    map_at_k,
    mean_ranking_metrics,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    rmse,
)


def test_rmse_and_mae_match_hand_computed_values():
    y, p = [4, 3, 5, 1], [3, 3, 4, 3]
    assert rmse(y, p) == pytest.approx(math.sqrt((1 + 0 + 1 + 4) / 4))
    assert mae(y, p) == pytest.approx((1 + 0 + 1 + 2) / 4)


def test_ranking_metrics_match_hand_computed_values():
    recs = ["a", "b", "c", "d"]
    relevant = {"b", "d", "z"}
    assert precision_at_k(recs, relevant, 4) == pytest.approx(2 / 4)
    assert recall_at_k(recs, relevant, 4) == pytest.approx(2 / 3)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(recs, relevant, 4) == pytest.approx(dcg / idcg)
    assert map_at_k(recs, relevant, 4) == pytest.approx((1 / 2 + 2 / 4) / 3)
    assert precision_at_k(recs, relevant, 2) == pytest.approx(1 / 2)


def test_precision_counts_short_lists_against_k():
    assert precision_at_k(["a"], {"a"}, 10) == pytest.approx(0.1)
    assert ndcg_at_k(["a"], {"a"}, 10) == pytest.approx(1.0)


def test_catalogue_coverage():
    assert catalogue_coverage([["a", "b"], ["b", "c"]], ["a", "b", "c", "d"]) == pytest.approx(0.75)


def test_mean_ranking_metrics_skips_users_without_relevant_items():
    out = mean_ranking_metrics({1: ["a", "b"], 2: ["c", "d"], 3: ["e"]}, {1: {"a"}, 2: {"x"}, 3: set()}, k=2)
    assert out["precision_at_2"] == pytest.approx((0.5 + 0.0) / 2)
    assert out["recall_at_2"] == pytest.approx(0.5)


@pytest.mark.parametrize(
    "call",
    [
        lambda: rmse([], []),
        lambda: mae([], []),
        lambda: precision_at_k([], {"a"}),
        lambda: recall_at_k(["a"], set()),
        lambda: ndcg_at_k(["a"], set()),
        lambda: map_at_k(["a"], set()),
        lambda: catalogue_coverage([], ["a"]),
        lambda: catalogue_coverage([["a"]], []),
        lambda: mean_ranking_metrics({}, {}),
        lambda: precision_at_k(["a"], {"a"}, 0),
    ],
)
def test_metrics_raise_value_error_on_empty_input(call):
    with pytest.raises(ValueError):
        call()


def test_rmse_rejects_mismatched_lengths():
    with pytest.raises(ValueError):
        rmse([1, 2], [1])
