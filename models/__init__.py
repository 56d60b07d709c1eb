"""MentorHub recommenders: one interface, several model families, metrics and data loaders.

Plain ML library: no Flask, no database, no MLflow at import time. Heavy dependencies
(scikit-surprise, PyTorch) are imported by the modules that need them.
"""

from models.base import NotFittedError, Recommender

__all__ = ["NotFittedError", "Recommender"]
