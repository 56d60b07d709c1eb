"""Popularity baseline: overall and per category (topic, genre)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable

import numpy as np
import pandas as pd

from models.base import Recommender
from models.constants import CATEGORIES_COL, ITEM_COL, RATING_COL


class PopularityRecommender(Recommender):
    """Ranks items by how many users interacted with them (optionally only ratings >= ``min_rating``)."""

    predicts_ratings = False

    def __init__(self, min_rating: float | None = None, categories_col: str = CATEGORIES_COL):
        self.min_rating = min_rating
        self.categories_col = categories_col

    def fit(self, interactions: pd.DataFrame, users: pd.DataFrame | None = None, items: pd.DataFrame | None = None):
        self._fit_index(interactions, items)
        frame = interactions
        if self.min_rating is not None and RATING_COL in frame.columns:
            frame = frame[frame[RATING_COL] >= self.min_rating]
        _, iidx = self._interaction_indices(frame)
        counts = np.bincount(iidx, minlength=len(self.item_ids_)).astype(np.float64)
        self.popularity_ = counts
        self.category_items_: dict[Hashable, np.ndarray] = {}
        if items is not None and self.categories_col in items.columns:
            members: dict[Hashable, list[int]] = {}
            for item, cats in zip(items[ITEM_COL], items[self.categories_col]):
                j = self.item_index_.get(item)
                if j is None or cats is None:
                    continue
                for c in [cats] if isinstance(cats, str) else cats:
                    members.setdefault(c, []).append(j)
            for c, idx in members.items():
                idx = np.asarray(idx, dtype=np.int64)
                self.category_items_[c] = idx[np.argsort(-counts[idx], kind="stable")]
        return self

    def _score_known(self, u: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.popularity_, (len(u), len(self.popularity_))).copy()

    def _fallback_scores(self) -> np.ndarray:
        return self.popularity_

    def categories(self) -> list[Hashable]:
        """Categories seen in the items frame at fit time."""
        self._check_fitted()
        return list(self.category_items_)

    def recommend_in_category(
        self, category: Hashable, k: int = 10, exclude: Iterable[Hashable] | None = None
    ) -> list[tuple[Hashable, float]]:
        """Most popular items of one category; an unknown category falls back to overall popularity."""
        if k <= 0:
            raise ValueError("k must be positive")
        self._check_fitted()
        banned = set(exclude or ())
        idx = self.category_items_.get(category)
        if idx is None:
            idx = np.argsort(-self.popularity_, kind="stable")
        out = []
        for j in idx:
            item = self.item_ids_[j]
            if item in banned:
                continue
            out.append((item, float(self.popularity_[j])))
            if len(out) == k:
                break
        return out
