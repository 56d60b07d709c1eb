"""Every model family learns an obvious preference and falls back for unknown users and items."""

import pickle

import numpy as np
import pytest

from models.base import NotFittedError
from models.collaborative import BaselineOnlyRecommender, KNNBaselineRecommender, SVDppRecommender, SVDRecommender
from models.content import TfidfContentRecommender
from models.ensemble import BlendRecommender, RatingAwareRanker
from models.implicit import EASERecommender, ItemKNNRecommender, RP3betaRecommender
from models.neural import NeuralHybridRecommender
from models.popularity import PopularityRecommender

A_ITEMS = [1, 2, 3, 4]  # category "python", see conftest.py
B_ITEMS = [5, 6, 7, 8]  # category "design"

SMALL_NEURAL = dict(n_factors=8, n_epochs=60, batch_users=4, lr=0.02, l2=0.01)

RANKERS = [
    lambda: TfidfContentRecommender(),
    lambda: EASERecommender(l2=1.0),
    lambda: EASERecommender(l2=1.0, target_min_rating=4.0),
    lambda: ItemKNNRecommender(),
    lambda: RP3betaRecommender(k_neighbors=None),
    lambda: NeuralHybridRecommender(**SMALL_NEURAL),
    lambda: RatingAwareRanker(EASERecommender(l2=1.0), SVDRecommender(n_factors=4, n_epochs=50)),
]
RATERS = [
    lambda: KNNBaselineRecommender(k=5),
    lambda: KNNBaselineRecommender(k=5, user_based=True),
    lambda: SVDRecommender(n_factors=4, n_epochs=100, lr_all=0.02),
    lambda: SVDppRecommender(n_factors=4, n_epochs=50, lr_all=0.02),
    lambda: NeuralHybridRecommender(**SMALL_NEURAL),
]


def _fit(model, interactions, users, items):
    return model.fit(interactions, users=users, items=items)


@pytest.mark.parametrize("factory", RANKERS)
def test_ranker_puts_liked_category_first(factory, interactions, users, items):
    model = _fit(factory(), interactions, users, items)
    recs = [item for item, _ in model.recommend(1, k=2)]
    assert set(recs) == {3, 4}, recs
    assert not {1, 2, 5} & {item for item, _ in model.recommend(1, k=8)}  # seen items excluded


@pytest.mark.parametrize("factory", RANKERS + [PopularityRecommender])
def test_ranker_falls_back_for_unknown_user_and_item(factory, interactions, users, items):
    model = _fit(factory(), interactions, users, items)
    scores = model.score("nobody", [1, 5, "no-such-item"])
    assert scores.shape == (3,) and np.all(np.isfinite(scores))
    assert scores[2] < min(scores[0], scores[1])
    assert len(model.recommend("nobody", k=3)) == 3


@pytest.mark.parametrize("factory", RATERS)
def test_rater_predicts_high_for_liked_category(factory, interactions, users, items):
    model = _fit(factory(), interactions, users, items)
    pred = model.predict([1, 1, 15, 15], [3, 7, 3, 7])
    assert pred[0] > pred[1] + 0.1
    assert pred[3] > pred[2] + 0.1
    assert np.all((pred >= 1) & (pred <= 5))


@pytest.mark.parametrize("factory", RATERS + [BaselineOnlyRecommender])
def test_rater_falls_back_for_unknown_user_and_item(factory, interactions, users, items):
    model = _fit(factory(), interactions, users, items)
    pred = model.predict(["nobody", 1, "nobody"], [3, "no-such-item", "no-such-item"])
    assert np.all(np.isfinite(pred)) and np.all((pred >= 1) & (pred <= 5))


def test_blend_learns_and_falls_back(interactions, users, items):
    blend = BlendRecommender(
        models=[BaselineOnlyRecommender(), SVDRecommender(n_factors=4, n_epochs=100, lr_all=0.02)],
        holdout_fraction=0.3,
    ).fit(interactions, users=users, items=items)
    pred = blend.predict([1, 1, "nobody"], [3, 7, "no-such-item"])
    assert pred[0] > pred[1] and np.all(np.isfinite(pred))


def test_popularity_overall_and_per_category(interactions, items):
    model = PopularityRecommender().fit(interactions, items=items)
    top = [i for i, _ in model.recommend("nobody", k=1)]
    assert top == [1]  # rated by every user
    design = [i for i, _ in model.recommend_in_category("design", k=4)]
    assert set(design) <= set(B_ITEMS) and design[0] in (5, 6)
    assert [i for i, _ in model.recommend_in_category("unknown topic", k=1)] == [1]
    assert set(model.categories()) == {"python", "design"}


def test_content_model_scores_free_text(interactions, users, items):
    model = TfidfContentRecommender().fit(interactions, users=users, items=items)
    scores = model.score_text("figma design", A_ITEMS + B_ITEMS)
    assert scores[4:].min() > scores[:4].max()


def test_rating_only_models_refuse_rating_prediction(interactions):
    with pytest.raises(NotImplementedError):
        EASERecommender().fit(interactions).predict([1], [3])


def test_unfitted_model_raises_not_fitted():
    with pytest.raises(NotFittedError):
        EASERecommender().recommend(1)


@pytest.mark.parametrize("factory", RANKERS + RATERS + [PopularityRecommender])
def test_models_expose_params_and_pickle(factory, interactions, users, items):
    model = factory()
    params = model.get_params()
    assert isinstance(params, dict)
    assert type(model)(**params).get_params() == params
    model.fit(interactions, users=users, items=items)
    copy = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(copy.score(1, A_ITEMS + B_ITEMS), model.score(1, A_ITEMS + B_ITEMS))


def test_fit_returns_self_and_rejects_empty_data(interactions):
    model = ItemKNNRecommender()
    assert model.fit(interactions) is model
    with pytest.raises(ValueError):
        ItemKNNRecommender().fit(interactions.iloc[:0])


def test_set_params_rejects_unknown_names():
    with pytest.raises(ValueError):
        EASERecommender().set_params(nope=1)


@pytest.mark.parametrize("factory", [lambda: SVDRecommender(n_factors=4, n_epochs=30, lr_all=0.02),
                                     lambda: SVDppRecommender(n_factors=4, n_epochs=20, lr_all=0.02)])
def test_factorisation_scores_every_item_as_it_predicts_each_one(factory, interactions, users, items):
    """Scoring one user against all items (the serving path, with item factors aligned once per fit) gives
    exactly the per-pair predictions, before and after a refit on other data."""
    model = _fit(factory(), interactions, users, items)
    all_items = list(model.item_ids_)
    for data in (None, interactions[interactions["user_id"] != 2]):
        if data is not None:
            model.fit(data, users=users, items=items)
        for user in (1, 15):
            np.testing.assert_allclose(model.score(user, all_items), model.predict([user] * len(all_items), all_items))
