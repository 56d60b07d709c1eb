"""Collaborative filtering on explicit ratings through scikit-surprise: KNN and matrix factorisation."""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
import pandas as pd

from models.base import Recommender, fitted_rating_scale
from models.constants import ITEM_COL, RATING_COL, SEED, USER_COL

_UNKNOWN = "__unknown__"


def to_surprise_trainset(interactions: pd.DataFrame, rating_scale: tuple[float, float]):
    """A full surprise ``Trainset`` from an interactions frame."""
    from surprise import Dataset, Reader  # lazy: scikit-surprise is loaded only to fit

    frame = interactions[[USER_COL, ITEM_COL, RATING_COL]]
    data = Dataset.load_from_df(frame, Reader(rating_scale=tuple(rating_scale)))
    return data.build_full_trainset()


class SurpriseRecommender(Recommender):
    """Adapter from a scikit-surprise algorithm to the ``Recommender`` interface.

    ``rating_scale`` None (the default) takes the scale from the ratings at fit time (``rating_scale_``).
    """

    def _make_algo(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def fit(self, interactions: pd.DataFrame, users: pd.DataFrame | None = None, items: pd.DataFrame | None = None):
        self._fit_index(interactions, items)
        # the data's own scale (e.g. 0.5-5 in half stars), unless the hyperparameter fixes one
        self.rating_scale_ = fitted_rating_scale(interactions, self.rating_scale)
        trainset = to_surprise_trainset(interactions, self.rating_scale_)
        self.algo_ = self._make_algo()
        self.algo_.fit(trainset)
        self.trainset_ = trainset
        # our index -> surprise inner id (-1 for items that only appear in the items frame)
        self.inner_user_ = np.array([trainset.to_inner_uid(u) for u in self.user_ids_], dtype=np.int64)
        raw2inner = trainset._raw2inner_id_items
        self.inner_item_ = np.array([raw2inner.get(i, -1) for i in self.item_ids_], dtype=np.int64)
        return self

    def _clip(self, est: np.ndarray) -> np.ndarray:
        """Clipped in place: every caller passes an estimate array it has just built."""
        lo, hi = self.rating_scale_
        return np.clip(est, lo, hi, out=est)

    def _predict_known(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        algo = self.algo_
        out = np.empty(len(u), dtype=np.float64)
        for n, (a, b) in enumerate(zip(u.tolist(), i.tolist())):
            ru = self.user_ids_[a] if a >= 0 else _UNKNOWN
            ri = self.item_ids_[b] if b >= 0 else _UNKNOWN
            out[n] = algo.predict(ru, ri, clip=True).est
        return out

    def _inner(self, u: np.ndarray, i: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        iu = np.where(u >= 0, self.inner_user_[np.maximum(u, 0)], -1)
        ii = np.where(i >= 0, self.inner_item_[np.maximum(i, 0)], -1)
        return iu, ii


class BaselineOnlyRecommender(SurpriseRecommender):
    """Global mean plus user and item biases (surprise ``BaselineOnly``)."""

    def __init__(self, method: str = "als", n_epochs: int = 10, reg_u: float = 15, reg_i: float = 10,
                 rating_scale: tuple[float, float] | None = None):
        self.method = method
        self.n_epochs = n_epochs
        self.reg_u = reg_u
        self.reg_i = reg_i
        self.rating_scale = rating_scale

    def _bsl_options(self) -> dict[str, Any]:
        return {"method": self.method, "n_epochs": self.n_epochs, "reg_u": self.reg_u, "reg_i": self.reg_i}

    def _make_algo(self):
        from surprise import BaselineOnly  # lazy: scikit-surprise is loaded only to fit

        return BaselineOnly(bsl_options=self._bsl_options(), verbose=False)

    def _predict_known(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        bu, bi = self.algo_.compute_baselines()
        iu, ii = self._inner(u, i)
        est = self.trainset_.global_mean + np.where(iu >= 0, bu[iu], 0.0) + np.where(ii >= 0, bi[ii], 0.0)
        return self._clip(est)


class KNNBaselineRecommender(SurpriseRecommender):
    """Baseline-corrected k-nearest-neighbours (surprise ``KNNBaseline``), item- or user-based."""

    def __init__(self, k: int = 40, min_k: int = 1, user_based: bool = False, sim_name: str = "pearson_baseline",
                 shrinkage: int = 100, bsl_method: str = "als", bsl_n_epochs: int = 10, bsl_reg_u: float = 15,
                 bsl_reg_i: float = 10, rating_scale: tuple[float, float] | None = None):
        self.k = k
        self.min_k = min_k
        self.user_based = user_based
        self.sim_name = sim_name
        self.shrinkage = shrinkage
        self.bsl_method = bsl_method
        self.bsl_n_epochs = bsl_n_epochs
        self.bsl_reg_u = bsl_reg_u
        self.bsl_reg_i = bsl_reg_i
        self.rating_scale = rating_scale

    def _make_algo(self):
        from surprise import KNNBaseline  # lazy: scikit-surprise is loaded only to fit

        sim = {"name": self.sim_name, "user_based": self.user_based, "shrinkage": self.shrinkage}
        bsl = {"method": self.bsl_method, "n_epochs": self.bsl_n_epochs, "reg_u": self.bsl_reg_u, "reg_i": self.bsl_reg_i}
        return KNNBaseline(k=self.k, min_k=self.min_k, sim_options=sim, bsl_options=bsl, verbose=False)


_ALIGNED_ITEMS: "weakref.WeakKeyDictionary[SVDRecommender, tuple]" = weakref.WeakKeyDictionary()


class SVDRecommender(SurpriseRecommender):
    """Biased matrix factorisation trained by SGD (surprise ``SVD``)."""

    def __init__(self, n_factors: int = 100, n_epochs: int = 20, lr_all: float = 0.005, reg_all: float = 0.02,
                 init_std_dev: float = 0.1, random_state: int | None = SEED,
                 rating_scale: tuple[float, float] | None = None):
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.lr_all = lr_all
        self.reg_all = reg_all
        self.init_std_dev = init_std_dev
        self.random_state = random_state
        self.rating_scale = rating_scale

    def _make_algo(self):
        from surprise import SVD  # lazy: scikit-surprise is loaded only to fit

        return SVD(n_factors=self.n_factors, n_epochs=self.n_epochs, lr_all=self.lr_all, reg_all=self.reg_all,
                   init_std_dev=self.init_std_dev, random_state=self.random_state)

    def _user_factors(self) -> np.ndarray:
        return self.algo_.pu

    def _predict_known(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        algo = self.algo_
        iu, ii = self._inner(u, i)
        ku, ki = iu >= 0, ii >= 0
        est = np.full(len(u), self.trainset_.global_mean)
        est += np.where(ku, algo.bu[np.maximum(iu, 0)], 0.0)
        est += np.where(ki, algo.bi[np.maximum(ii, 0)], 0.0)
        both = ku & ki
        pu = self._user_factors()
        est[both] += np.einsum("nf,nf->n", pu[iu[both]], algo.qi[ii[both]])
        return self._clip(est)

    def score_batch(self, users, items=None) -> np.ndarray:
        """As the base class; for known users and every item (serving: one learner per request) straight from
        `_score_known`, whose columns are already in our item order (the base class would copy them twice)."""
        users = list(users)
        if items is None:
            self._check_fitted()
            u = self._map(users, self.user_index_)
            if u.size and (u >= 0).all():
                return self._score_known(u)
        return super().score_batch(users, items)

    def _score_known(self, u: np.ndarray) -> np.ndarray:
        iu = self.inner_user_[u]
        item_bias, item_factors_t = self._aligned_items()
        est = (self.trainset_.global_mean + self.algo_.bu[iu][:, None]) + item_bias[None, :]
        est += self._user_factors()[iu] @ item_factors_t
        return self._clip(est)

    def _aligned_items(self) -> tuple[np.ndarray, np.ndarray]:
        """Item biases and transposed item factors in our item order (zeros for items surprise never saw),
        computed once per fitted model: serving scores one learner against every item on each request."""
        cached = _ALIGNED_ITEMS.get(self)
        if cached is None or cached[0] is not self.algo_:
            known = self.inner_item_ >= 0
            inner = np.maximum(self.inner_item_, 0)
            bias = np.where(known, self.algo_.bi[inner], 0.0)
            factors_t = np.ascontiguousarray((self.algo_.qi[inner] * known[:, None]).T)
            cached = _ALIGNED_ITEMS[self] = (self.algo_, bias, factors_t)
        return cached[1], cached[2]


class SVDppRecommender(SVDRecommender):
    """SVD with implicit feedback from which items each user rated (surprise ``SVDpp``)."""

    def __init__(self, n_factors: int = 20, n_epochs: int = 20, lr_all: float = 0.007, reg_all: float = 0.02,
                 init_std_dev: float = 0.1, random_state: int | None = SEED,
                 rating_scale: tuple[float, float] | None = None):
        super().__init__(n_factors=n_factors, n_epochs=n_epochs, lr_all=lr_all, reg_all=reg_all,
                         init_std_dev=init_std_dev, random_state=random_state, rating_scale=rating_scale)

    def _make_algo(self):
        from surprise import SVDpp  # lazy: scikit-surprise is loaded only to fit

        return SVDpp(n_factors=self.n_factors, n_epochs=self.n_epochs, lr_all=self.lr_all, reg_all=self.reg_all,
                     init_std_dev=self.init_std_dev, random_state=self.random_state, cache_ratings=True)

    def _user_factors(self) -> np.ndarray:
        if not hasattr(self, "implicit_pu_"):
            ts = self.trainset_
            yj = self.algo_.yj
            implicit = np.zeros_like(self.algo_.pu)
            for inner_u, ratings in ts.ur.items():
                js = [j for j, _ in ratings]
                implicit[inner_u] = yj[js].sum(axis=0) / np.sqrt(len(js))
            self.implicit_pu_ = self.algo_.pu + implicit
        return self.implicit_pu_
