"""The model families by name: one registry (name -> constructor) that training and serving both build from.

Each constructor is imported on first use (the neural and learning-to-rank families pull in heavy
libraries), so importing this module costs nothing. Hyperparameters stay with the caller: the
scheduled pipeline and the serving bootstrap build the same classes with their own settings.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

# family name -> "module:Class" of its constructor
FAMILIES: dict[str, str] = {
    "popularity": "models.popularity:PopularityRecommender",
    "content-tfidf": "models.content:TfidfContentRecommender",
    "knn-baseline": "models.collaborative:KNNBaselineRecommender",
    "svd": "models.collaborative:SVDRecommender",
    "ease": "models.implicit:EASERecommender",
    "neural-hybrid": "models.neural:NeuralHybridRecommender",
    "ltr": "models.ltr:LearningToRankRecommender",
}


def constructor(name: str) -> type:
    """The class that builds family `name` (KeyError for an unknown family; callers word their own error)."""
    module, _, cls = FAMILIES[name].partition(":")
    return getattr(import_module(module), cls)


def build(name: str, **params: Any):
    """A new, unfitted recommender of family `name` built with `params`."""
    return constructor(name)(**params)
