"""The one recommender interface every model family implements."""

from __future__ import annotations

import inspect
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from models.constants import ITEM_COL, RATING_COL, RATING_SCALE, USER_COL


def fitted_rating_scale(interactions: pd.DataFrame, override: tuple[float, float] | None = None) -> tuple[float, float]:
    """The rating scale a model clips to: ``override`` when given, else the lowest and highest rating in the data."""
    if override is not None:
        lo, hi = (float(x) for x in override)
        if not lo < hi:
            raise ValueError(f"rating_scale must be (low, high) with low < high, not {override!r}")
        return lo, hi
    if RATING_COL not in interactions.columns or not len(interactions):
        return RATING_SCALE
    ratings = pd.to_numeric(interactions[RATING_COL], errors="coerce").dropna()
    if ratings.empty:
        return RATING_SCALE
    lo, hi = float(ratings.min()), float(ratings.max())
    return (lo, hi) if lo < hi else (min(lo, RATING_SCALE[0]), max(hi, RATING_SCALE[1]))


def hashable(value: Any) -> Hashable:
    """A cell as a hashable value: list-like cells (topics, languages) become tuples."""
    if isinstance(value, (list, tuple, set, np.ndarray)):
        return tuple(hashable(v) for v in value)
    return value


class NotFittedError(RuntimeError):
    """Raised when a model is used before ``fit``."""


class Recommender:
    """Base class: constructor stores hyperparameters, ``fit`` learns state ending in ``_``.

    Subclasses implement ``fit`` and either ``_predict_known`` (rating models) or
    ``_score_known`` (ranking models); unknown users and items fall back to a default
    (the global mean rating, or item popularity for ranking) instead of raising.
    """

    predicts_ratings: bool = True

    # ----------------------------------------------------------------- params
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [
            name
            for name, p in sig.parameters.items()
            if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self, deep: bool = False) -> dict[str, Any]:
        """Return the hyperparameters given to the constructor."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> "Recommender":
        """Set hyperparameters (scikit-learn style); returns self."""
        valid = set(self._param_names())
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"{type(self).__name__} has no parameter {name!r}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        interactions: pd.DataFrame,
        users: pd.DataFrame | None = None,
        items: pd.DataFrame | None = None,
    ) -> "Recommender":
        """Learn from interactions (user, item, rating, timestamp) and optional side frames."""
        raise NotImplementedError

    def _fit_index(
        self,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None = None,
        users: pd.DataFrame | None = None,
    ) -> None:
        """Build id <-> index maps, the global mean, item popularity and each user's seen items.

        Items (users) that appear only in the side frame join the catalogue with no history.
        """
        if interactions is None or len(interactions) == 0:
            raise ValueError("cannot fit on empty interactions")
        missing = {USER_COL, ITEM_COL} - set(interactions.columns)
        if missing:
            raise ValueError(f"interactions lack columns {sorted(missing)}")
        user_ids = list(pd.unique(interactions[USER_COL]))
        if users is not None and USER_COL in users.columns:
            known_users = set(user_ids)
            user_ids += [u for u in users[USER_COL].tolist() if u not in known_users]
        item_ids = list(pd.unique(interactions[ITEM_COL]))
        if items is not None and ITEM_COL in items.columns:
            known = set(item_ids)
            item_ids += [i for i in items[ITEM_COL].tolist() if i not in known]
        self.user_ids_ = np.asarray(user_ids, dtype=object)
        self.item_ids_ = np.asarray(item_ids, dtype=object)
        self.user_index_ = {u: n for n, u in enumerate(self.user_ids_.tolist())}
        self.item_index_ = {i: n for n, i in enumerate(self.item_ids_.tolist())}
        uidx = interactions[USER_COL].map(self.user_index_).to_numpy(np.int64)
        iidx = interactions[ITEM_COL].map(self.item_index_).to_numpy(np.int64)
        self.item_counts_ = np.bincount(iidx, minlength=len(self.item_ids_)).astype(np.float64)
        if RATING_COL in interactions.columns:
            self.global_mean_ = float(interactions[RATING_COL].mean())
        else:
            self.global_mean_ = 0.0
        order = np.argsort(uidx, kind="stable")
        bounds = np.searchsorted(uidx[order], np.arange(len(self.user_ids_) + 1))
        self.seen_ = [iidx[order[bounds[u] : bounds[u + 1]]] for u in range(len(self.user_ids_))]

    def _interaction_indices(self, interactions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        uidx = interactions[USER_COL].map(self.user_index_).to_numpy(np.int64)
        iidx = interactions[ITEM_COL].map(self.item_index_).to_numpy(np.int64)
        return uidx, iidx

    def _check_fitted(self) -> None:
        if not hasattr(self, "item_index_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit() first")

    def _map(self, ids: Iterable[Hashable], index: dict) -> np.ndarray:
        """Map raw ids to internal indices; unknown ids become -1."""
        return np.fromiter((index.get(x, -1) for x in ids), dtype=np.int64)

    # ------------------------------------------------------------ prediction
    def predict(self, users: Sequence[Hashable], items: Sequence[Hashable]) -> np.ndarray:
        """Estimated rating for each (user, item) pair; unknown pairs get a default."""
        if not self.predicts_ratings:
            raise NotImplementedError(f"{type(self).__name__} does not predict ratings")
        self._check_fitted()
        users = list(users)
        items = list(items)
        if len(users) != len(items):
            raise ValueError("users and items must have the same length")
        if not users:
            return np.zeros(0)
        u = self._map(users, self.user_index_)
        i = self._map(items, self.item_index_)
        return np.asarray(self._predict_known(u, i), dtype=np.float64)

    def _predict_known(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        """Predict for internal indices (-1 means unknown)."""
        raise NotImplementedError

    def score(self, user: Hashable, items: Sequence[Hashable] | None = None) -> np.ndarray:
        """Ranking score (higher is better) of ``items`` (default: every known item) for one user."""
        return self.score_batch([user], items)[0]

    def score_batch(
        self, users: Sequence[Hashable], items: Sequence[Hashable] | None = None
    ) -> np.ndarray:
        """Scores of shape (len(users), len(items)); unknown users get popularity, unknown items the minimum."""
        self._check_fitted()
        users = list(users)
        if items is None:
            i = np.arange(len(self.item_ids_))
        else:
            i = self._map(list(items), self.item_index_)
        u = self._map(users, self.user_index_)
        out = np.empty((len(users), len(i)), dtype=np.float64)
        known_u = u >= 0
        if known_u.any():
            full = np.asarray(self._score_known(u[known_u]), dtype=np.float64)
            if full.ndim != 2:
                raise RuntimeError("_score_known must return a 2-D array")
            out[known_u] = self._take_items(full, i)
        if (~known_u).any():
            out[~known_u] = self._take_items(self._fallback_scores()[None, :], i)
        return out

    def _take_items(self, full: np.ndarray, i: np.ndarray) -> np.ndarray:
        """Select item columns; unknown items (-1) score below every known item."""
        taken = full[:, np.where(i >= 0, i, 0)]
        if (i < 0).any():
            low = np.nanmin(full) - 1.0 if full.size else -1.0
            taken[:, i < 0] = low
        return taken

    def _score_known(self, u: np.ndarray) -> np.ndarray:
        """Scores of every known item for known users (internal indices). Rating models rank by prediction."""
        if not self.predicts_ratings:
            raise NotImplementedError
        n_items = len(self.item_ids_)
        uu = np.repeat(u, n_items)
        ii = np.tile(np.arange(n_items), len(u))
        return self._predict_known(uu, ii).reshape(len(u), n_items)

    def _fallback_scores(self) -> np.ndarray:
        """Default ranking for an unknown user: item popularity in the training data."""
        return self.item_counts_.astype(np.float64)

    def recommend(
        self,
        user: Hashable,
        k: int = 10,
        exclude: Iterable[Hashable] | None = None,
        items: Sequence[Hashable] | None = None,
        exclude_seen: bool = True,
    ) -> list[tuple[Hashable, float]]:
        """Top-``k`` (item, score) pairs for a user among ``items`` (default: all known items)."""
        if k <= 0:
            raise ValueError("k must be positive")
        self._check_fitted()
        candidates = list(self.item_ids_) if items is None else list(items)
        if not candidates:
            return []
        scores = self.score_batch([user], candidates)[0]
        banned = set(exclude or ())
        if exclude_seen and user in self.user_index_:
            banned |= {self.item_ids_[j] for j in self.seen_[self.user_index_[user]]}
        keep = np.array([c not in banned for c in candidates], dtype=bool)
        idx = np.flatnonzero(keep)
        if idx.size == 0:
            return []
        order = idx[np.argsort(-scores[idx], kind="stable")][:k]
        return [(candidates[j], float(scores[j])) for j in order]
