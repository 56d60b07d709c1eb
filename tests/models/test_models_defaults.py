"""Issue 18, item 6: default arguments work on the pipeline's own frames, and the rating scale comes from the data."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.constants import CATEGORIES_COL, ITEM_COL, RATING_COL, TEXT_COL, USER_COL


@pytest.fixture
def pipeline_users(users) -> pd.DataFrame:
    """Learners as `pipelines.modelling.users_frame` makes them: interest topics as a list per learner."""
    frame = users[[USER_COL, TEXT_COL]].copy()
    frame[CATEGORIES_COL] = [["python", "sql"] if u < 14 else ["design"] for u in frame[USER_COL]]
    frame["searches_90d"] = np.arange(len(frame), dtype=np.float64)
    return frame


def test_neural_hybrid_with_default_arguments_fits_the_pipeline_users_frame(interactions, pipeline_users, items):
    from models.neural import NeuralHybridRecommender

    model = NeuralHybridRecommender(n_epochs=2).fit(interactions, users=pipeline_users, items=items)
    assert CATEGORIES_COL in model.user_categorical_cols_  # the list column is used, value by value
    assert {(CATEGORIES_COL, "python"), (CATEGORIES_COL, "design")} <= set(model.user_vocabulary_)
    assert np.isfinite(model.predict([1, 2], [3, 5])).all()


@pytest.mark.slow
def test_blend_with_default_arguments_fits_the_pipeline_users_frame(interactions, pipeline_users, items):
    from models.ensemble import BlendRecommender

    model = BlendRecommender(holdout_fraction=0.3).fit(interactions, users=pipeline_users, items=items)
    assert np.isfinite(model.predict([1, 2], [3, 5])).all()


def _half_star(interactions: pd.DataFrame) -> pd.DataFrame:
    """The same data on a 0.5-5 scale (half stars, as MovieLens-latest), plus harsh critics who give 0.5 to all."""
    frame = interactions.copy()
    frame[RATING_COL] = frame[RATING_COL] - 0.5
    critics = [(u, i, 0.5, 1000 + n) for n, (u, i) in enumerate((u, i) for u in range(30, 36) for i in range(1, 9))]
    return pd.concat([frame, pd.DataFrame(critics, columns=frame.columns)], ignore_index=True)


@pytest.mark.parametrize("name", ["baseline", "svd", "knn", "neural"])
def test_rating_models_take_the_scale_from_the_data(interactions, name):
    from models.collaborative import BaselineOnlyRecommender, KNNBaselineRecommender, SVDRecommender
    from models.neural import NeuralHybridRecommender

    # (weakly regularised: eight ratings per critic are enough to pull an estimate below 1)
    build = {"baseline": lambda **kw: BaselineOnlyRecommender(reg_u=0.5, reg_i=0.5, **kw),
             "svd": lambda **kw: SVDRecommender(n_epochs=60, **kw), "knn": KNNBaselineRecommender,
             "neural": lambda **kw: NeuralHybridRecommender(n_epochs=60, l2=0.0, lr=0.01, **kw)}[name]
    data = _half_star(interactions)
    critic, items = [30] * 8, list(range(1, 9))
    model = build().fit(data)
    assert model.rating_scale_ == (0.5, 4.5)
    # a critic's estimates go below 1, which the old fixed (1, 5) scale clipped away
    assert model.predict(critic, items).min() < 1.0
    # an explicit scale still overrides the data's
    fixed = build(rating_scale=(1.0, 5.0)).fit(data)
    assert fixed.rating_scale_ == (1.0, 5.0)
    assert fixed.predict(critic, items).min() >= 1.0
