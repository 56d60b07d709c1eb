"""Top-N rankers on implicit (binary) feedback: EASE, item-kNN cosine and RP3beta."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from models.base import Recommender
from models.constants import RATING_COL


class _ImplicitRecommender(Recommender):
    """Shared fitting: a binary user x item matrix, scores = X @ item_similarity."""

    predicts_ratings = False
    min_rating: float | None = None

    def _binary_matrix(self, interactions: pd.DataFrame) -> sp.csr_matrix:
        frame = interactions
        if self.min_rating is not None and RATING_COL in frame.columns:
            frame = frame[frame[RATING_COL] >= self.min_rating]
        uidx, iidx = self._interaction_indices(frame)
        x = sp.csr_matrix(
            (np.ones(len(uidx)), (uidx, iidx)), shape=(len(self.user_ids_), len(self.item_ids_))
        )
        x.data[:] = 1.0  # duplicates count once
        return x

    def fit(self, interactions: pd.DataFrame, users: pd.DataFrame | None = None, items: pd.DataFrame | None = None):
        self._fit_index(interactions, items)
        self.x_ = self._binary_matrix(interactions)
        self.similarity_ = self._similarity(self.x_)
        return self

    def _similarity(self, x: sp.csr_matrix) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _score_known(self, u: np.ndarray) -> np.ndarray:
        s = self.x_[u] @ self.similarity_
        s = s.toarray() if sp.issparse(s) else np.asarray(s)
        # tiny popularity term breaks ties (users with no history) without changing real orderings
        return s + 1e-9 * np.log1p(self.item_counts_)[None, :]


class EASERecommender(_ImplicitRecommender):
    """Embarrassingly Shallow Autoencoder (Steck 2019): closed-form item-item weights with L2.

    With ``target_min_rating`` the weights regress, from every interaction, only the liked
    ones (rating >= target_min_rating), still with a zero diagonal.
    """

    def __init__(self, l2: float = 500.0, min_rating: float | None = None, target_min_rating: float | None = None):
        self.l2 = l2
        self.min_rating = min_rating
        self.target_min_rating = target_min_rating

    def fit(self, interactions: pd.DataFrame, users: pd.DataFrame | None = None, items: pd.DataFrame | None = None):
        self._fit_index(interactions, items)
        self.x_ = self._binary_matrix(interactions)
        if self.target_min_rating is None or RATING_COL not in interactions.columns:
            self.similarity_ = self._similarity(self.x_)
            return self
        liked = interactions[interactions[RATING_COL] >= self.target_min_rating]
        uidx, iidx = self._interaction_indices(liked)
        y = sp.csr_matrix((np.ones(len(uidx)), (uidx, iidx)), shape=self.x_.shape)
        y.data[:] = 1.0
        p = self._inverse_gram(self.x_)
        pxy = p @ (self.x_.T @ y).toarray()
        b = pxy - p * (np.diag(pxy) / np.diag(p))[None, :]
        b[np.diag_indices_from(b)] = 0.0
        self.similarity_ = b
        return self

    def _inverse_gram(self, x: sp.csr_matrix) -> np.ndarray:
        gram = (x.T @ x).toarray()
        gram[np.diag_indices_from(gram)] += self.l2
        return np.linalg.inv(gram)

    def _similarity(self, x: sp.csr_matrix) -> np.ndarray:
        p = self._inverse_gram(x)
        b = -p / np.diag(p)[None, :]
        b[np.diag_indices_from(b)] = 0.0
        return b


class ItemKNNRecommender(_ImplicitRecommender):
    """Item-based kNN with cosine similarity on binary interactions (optionally top-k neighbours)."""

    def __init__(self, k_neighbors: int | None = None, shrink: float = 0.0, min_rating: float | None = None):
        self.k_neighbors = k_neighbors
        self.shrink = shrink
        self.min_rating = min_rating

    def _similarity(self, x: sp.csr_matrix) -> np.ndarray:
        co = (x.T @ x).toarray()
        norms = np.sqrt(np.diag(co))
        sim = co / (np.outer(norms, norms) + self.shrink + 1e-12)
        np.fill_diagonal(sim, 0.0)
        return _keep_top_k(sim, self.k_neighbors)


class RP3betaRecommender(_ImplicitRecommender):
    """RP3beta (Paudel et al. 2017): 3-step random walk item->user->item, popularity-penalised by beta."""

    def __init__(self, alpha: float = 1.0, beta: float = 0.5, k_neighbors: int | None = 200,
                 min_rating: float | None = None):
        self.alpha = alpha
        self.beta = beta
        self.k_neighbors = k_neighbors
        self.min_rating = min_rating

    def _similarity(self, x: sp.csr_matrix) -> np.ndarray:
        user_deg = np.asarray(x.sum(axis=1)).ravel()
        item_deg = np.asarray(x.sum(axis=0)).ravel()
        p_ui = sp.diags(1.0 / np.maximum(user_deg, 1.0)) @ x
        p_iu = sp.diags(1.0 / np.maximum(item_deg, 1.0)) @ x.T
        if self.alpha != 1.0:
            p_ui = p_ui.power(self.alpha)
            p_iu = p_iu.power(self.alpha)
        w = (p_iu @ p_ui).toarray()
        w = w / np.power(np.maximum(item_deg, 1.0), self.beta)[None, :]
        np.fill_diagonal(w, 0.0)
        w = _keep_top_k(w, self.k_neighbors)
        return w


def _keep_top_k(sim: np.ndarray, k: int | None) -> np.ndarray:
    """Keep each row's k largest entries (by row: item i's neighbours)."""
    if k is None or k >= sim.shape[1]:
        return sim
    out = np.zeros_like(sim)
    top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
    rows = np.arange(sim.shape[0])[:, None]
    out[rows, top] = sim[rows, top]
    return out
