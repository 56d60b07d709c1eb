import numpy as np

from models.neural import NeuralHybridRecommender


def test_neural_model_is_deterministic_for_a_seed(interactions, users, items):
    kwargs = dict(n_factors=8, n_epochs=5, batch_users=4)
    a = NeuralHybridRecommender(seed=7, **kwargs).fit(interactions, users=users, items=items)
    b = NeuralHybridRecommender(seed=7, **kwargs).fit(interactions, users=users, items=items)
    c = NeuralHybridRecommender(seed=8, **kwargs).fit(interactions, users=users, items=items)
    np.testing.assert_array_equal(a.predict([1, 2, 3], [3, 4, 5]), b.predict([1, 2, 3], [3, 4, 5]))
    np.testing.assert_array_equal(a.score(1), b.score(1))
    assert a.loss_history_ == b.loss_history_
    assert not np.array_equal(a.score(1), c.score(1))


def test_neural_model_gives_cold_items_a_content_vector(interactions, users, items):
    import pandas as pd

    cold = pd.concat([items, pd.DataFrame([{**items.iloc[0].to_dict(), "item_id": 99}])], ignore_index=True)
    model = NeuralHybridRecommender(n_factors=8, n_epochs=30, batch_users=4, lr=0.02).fit(
        interactions, users=users, items=cold
    )
    scores = model.score(1, [99, 7])
    assert np.all(np.isfinite(scores))
    assert 99 in {item for item, _ in model.recommend(1, k=8)}


def test_neural_fit_restores_torch_thread_count(interactions):
    import torch

    before = torch.get_num_threads()
    NeuralHybridRecommender(n_factors=4, n_epochs=1, n_threads=1).fit(interactions)
    assert torch.get_num_threads() == before


def test_neural_model_tolerates_named_columns_that_are_absent(interactions):
    model = NeuralHybridRecommender(n_factors=4, n_epochs=2, item_numeric_cols=["price"],
                                    user_categorical_cols=["interests"], user_numeric_cols=["age"])
    model.fit(interactions)
    assert np.all(np.isfinite(model.predict([1, "nobody"], [3, 3])))


def test_neural_model_accepts_list_valued_user_interests(interactions, users, items):
    users = users.assign(interests=[["python", "sql"] if u < 14 else ["figma"] for u in users["user_id"]])
    model = NeuralHybridRecommender(n_factors=4, n_epochs=2, user_categorical_cols=["interests"])
    model.fit(interactions, users=users, items=items)
    assert ("interests", "figma") in model.user_vocabulary_
