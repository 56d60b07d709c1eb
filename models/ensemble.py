"""Model combinations: a stacked rating blend and a rating-aware ranker."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from models.base import Recommender, fitted_rating_scale
from models.collaborative import KNNBaselineRecommender, SVDppRecommender, SVDRecommender
from models.constants import RATING_COL, SEED
from models.implicit import EASERecommender
from models.neural import NeuralHybridRecommender


def clone(model: Recommender) -> Recommender:
    """An unfitted copy with the same hyperparameters."""
    params = {k: (clone(v) if isinstance(v, Recommender) else v) for k, v in model.get_params().items()}
    if "models" in params and params["models"] is not None:
        params["models"] = [clone(m) for m in params["models"]]
    return type(model)(**params)


def default_blend_members() -> list[Recommender]:
    """KNNBaseline item and user, SVD++, the neural hybrid and a strongly regularised biased MF.

    The MF settings were chosen on a validation split of u1.base (never on a .test file).
    """
    return [
        KNNBaselineRecommender(user_based=False, k=40),
        KNNBaselineRecommender(user_based=True, k=50),
        SVDppRecommender(),
        NeuralHybridRecommender(),
        SVDRecommender(n_factors=100, n_epochs=100, lr_all=0.005, reg_all=0.1),
    ]


class BlendRecommender(Recommender):
    """Linear stacking of rating models.

    The members are fitted on all but a random ``holdout_fraction`` of the ratings; a ridge
    regression of the held-out ratings on their predictions (plus log user / item support
    interactions) gives the weights; then, with ``refit``, the members are fitted again on
    every rating and blended with those weights.
    """

    def __init__(
        self,
        models: Sequence[Recommender] | None = None,
        holdout_fraction: float = 0.1,
        ridge: float = 1.0,
        support_features: bool = True,
        refit: bool = True,
        rating_scale: tuple[float, float] | None = None,
        seed: int = SEED,
    ):
        self.models = models
        self.holdout_fraction = holdout_fraction
        self.ridge = ridge
        self.support_features = support_features
        self.refit = refit
        self.rating_scale = rating_scale
        self.seed = seed

    def _members(self) -> list[Recommender]:
        return [clone(m) for m in (self.models if self.models is not None else default_blend_members())]

    def _design(self, members: Sequence[Recommender], u: np.ndarray, i: np.ndarray) -> np.ndarray:
        preds = np.column_stack([m._predict_mapped(self, u, i) for m in [_Mapped(x) for x in members]])
        cols = [np.ones(len(u)), preds]
        if self.support_features:
            su = np.log1p(np.where(u >= 0, self.user_support_[np.maximum(u, 0)], 0.0))[:, None]
            si = np.log1p(np.where(i >= 0, self.item_support_[np.maximum(i, 0)], 0.0))[:, None]
            cols += [su, si, preds * su, preds * si]
        return np.column_stack(cols)

    def fit(self, interactions: pd.DataFrame, users: pd.DataFrame | None = None, items: pd.DataFrame | None = None):
        self._fit_index(interactions, items, users)
        self.rating_scale_ = fitted_rating_scale(interactions, self.rating_scale)
        if not 0.0 < self.holdout_fraction < 1.0:
            raise ValueError("holdout_fraction must be in (0, 1)")
        rng = np.random.default_rng(self.seed)
        mask = rng.random(len(interactions)) < self.holdout_fraction
        inner, holdout = interactions[~mask], interactions[mask]
        if len(holdout) == 0 or len(inner) == 0:
            raise ValueError("too few interactions to hold some out for blending")
        uidx_in, iidx_in = self._interaction_indices(inner)
        self.user_support_ = np.bincount(uidx_in, minlength=len(self.user_ids_)).astype(np.float64)
        self.item_support_ = np.bincount(iidx_in, minlength=len(self.item_ids_)).astype(np.float64)
        members = [m.fit(inner, users=users, items=items) for m in self._members()]
        hu, hi = self._interaction_indices(holdout)
        x = self._design(members, hu, hi)
        y = holdout[RATING_COL].to_numpy(np.float64)
        penalty = self.ridge * np.eye(x.shape[1])
        penalty[0, 0] = 0.0
        self.coef_ = np.linalg.solve(x.T @ x + penalty, x.T @ y)
        if self.refit:
            uidx, iidx = self._interaction_indices(interactions)
            self.user_support_ = np.bincount(uidx, minlength=len(self.user_ids_)).astype(np.float64)
            self.item_support_ = np.bincount(iidx, minlength=len(self.item_ids_)).astype(np.float64)
            members = [m.fit(interactions, users=users, items=items) for m in self._members()]
        self.members_ = members
        return self

    def _predict_known(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        return np.clip(self._design(self.members_, u, i) @ self.coef_, *self.rating_scale_)


class _Mapped:
    """Predict with a member whose internal indices may differ from the blend's."""

    def __init__(self, model: Recommender):
        self.model = model

    def _predict_mapped(self, owner: Recommender, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        users = [owner.user_ids_[x] if x >= 0 else None for x in u.tolist()]
        items = [owner.item_ids_[x] if x >= 0 else None for x in i.tolist()]
        return self.model.predict(users, items)


class RatingAwareRanker(Recommender):
    """Ranks by a top-N model's score times the probability-like squash of a rating model's estimate.

    score = ranker score * sigmoid(sharpness * (predicted rating - midpoint)): items a user
    would likely interact with *and* rate well come first.
    """

    predicts_ratings = False

    def __init__(self, ranker: Recommender | None = None, rater: Recommender | None = None,
                 sharpness: float = 1.0, midpoint: float = 3.5):
        self.ranker = ranker
        self.rater = rater
        self.sharpness = sharpness
        self.midpoint = midpoint

    def fit(self, interactions: pd.DataFrame, users: pd.DataFrame | None = None, items: pd.DataFrame | None = None):
        self._fit_index(interactions, items, users)
        self.ranker_ = clone(self.ranker) if self.ranker is not None else EASERecommender()
        self.rater_ = clone(self.rater) if self.rater is not None else NeuralHybridRecommender()
        if not self.rater_.predicts_ratings:
            raise ValueError("rater must be a rating model")
        self.ranker_.fit(interactions, users=users, items=items)
        self.rater_.fit(interactions, users=users, items=items)
        return self

    def _score_known(self, u: np.ndarray) -> np.ndarray:
        users = [self.user_ids_[x] for x in u.tolist()]
        items = self.item_ids_.tolist()
        base = self.ranker_.score_batch(users, items)
        est = self.rater_.predict(np.repeat(np.asarray(users, dtype=object), len(items)),
                                  np.tile(np.asarray(items, dtype=object), len(users))).reshape(len(users), len(items))
        return base / (1.0 + np.exp(-self.sharpness * (est - self.midpoint)))
