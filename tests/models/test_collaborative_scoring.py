"""SVD scoring of every item for known users (serving's path) is the base class's, bit for bit."""
from __future__ import annotations

import numpy as np
import pytest

from models.base import Recommender
from models.collaborative import SVDppRecommender, SVDRecommender


@pytest.mark.parametrize("factory", [lambda: SVDRecommender(n_factors=4, n_epochs=20, lr_all=0.02),
                                     lambda: SVDppRecommender(n_factors=4, n_epochs=10, lr_all=0.02)])
def test_score_batch_of_every_item_matches_the_base_class(factory, interactions, items):
    model = factory().fit(interactions, items=items)
    for users in ([1], [2, 14, 21], [1, 999], [999], []):  # known, several, with an unknown user, none
        got = model.score_batch(users)
        expected = Recommender.score_batch(model, users)
        assert got.dtype == np.float64 and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)
    # the scores themselves: biases plus factors, clipped to the rating scale
    u = np.array([model.user_index_[1]])
    iu = model.inner_user_[u]
    bias, factors_t = model._aligned_items()
    est = (model.trainset_.global_mean + model.algo_.bu[iu][:, None]) + bias[None, :]
    est += model._user_factors()[iu] @ factors_t
    np.testing.assert_array_equal(model.score_batch(iter([1])), np.clip(est, *model.rating_scale_))
    np.testing.assert_array_equal(model.score_batch([1], [3, 1, 77]), Recommender.score_batch(model, [1], [3, 1, 77]))
