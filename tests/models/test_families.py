"""The one registry of model families (name -> constructor) that the pipeline and the serving bootstrap build from."""
import pytest

from models.families import FAMILIES, build, constructor


def test_every_family_resolves_to_a_recommender_class():
    from models.base import Recommender

    for name in FAMILIES:
        assert issubclass(constructor(name), Recommender), name


def test_build_passes_the_hyperparameters():
    model = build("svd", n_factors=7, n_epochs=3)
    assert (type(model).__name__, model.n_factors, model.n_epochs) == ("SVDRecommender", 7, 3)


def test_unknown_family_is_a_key_error():
    with pytest.raises(KeyError):
        constructor("nope")

