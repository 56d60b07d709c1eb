"""Content-based recommender: TF-IDF over item and user text, cosine similarity."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from models.base import Recommender
from models.constants import ITEM_COL, RATING_COL, TEXT_COL, USER_COL


def _join_text(frame: pd.DataFrame, cols: Sequence[str]) -> list[str]:
    """Concatenate text columns; list-valued cells (e.g. expertise tags) are joined with spaces."""
    present = [c for c in cols if c in frame.columns]
    texts = []
    for row in frame[present].itertuples(index=False):
        parts = []
        for value in row:
            if value is None or (isinstance(value, float) and np.isnan(value)):
                continue
            if isinstance(value, (list, tuple, set, np.ndarray)):
                parts.append(" ".join(map(str, value)))
            else:
                parts.append(str(value))
        texts.append(" ".join(parts))
    return texts


class TfidfContentRecommender(Recommender):
    """Scores items by cosine similarity between TF-IDF item vectors and a user profile.

    Item text: ``item_text_cols`` (for mentors: expertise, headline, experience). User
    profile: the user's own text (``user_text_cols``: interests, search history) plus the
    rating-weighted mean of the items the user interacted with.
    """

    predicts_ratings = False

    def __init__(
        self,
        item_text_cols: Sequence[str] = (TEXT_COL,),
        user_text_cols: Sequence[str] = (TEXT_COL,),
        ngram_range: tuple[int, int] = (1, 2),
        min_df: int = 1,
        max_features: int | None = 50_000,
        sublinear_tf: bool = True,
        history_weight: float = 1.0,
        like_threshold: float | None = None,
    ):
        self.item_text_cols = item_text_cols
        self.user_text_cols = user_text_cols
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.history_weight = history_weight
        self.like_threshold = like_threshold

    def fit(self, interactions: pd.DataFrame, users: pd.DataFrame | None = None, items: pd.DataFrame | None = None):
        if items is None:
            raise ValueError("TfidfContentRecommender needs an items frame with text columns")
        self._fit_index(interactions, items, users)
        items = items.drop_duplicates(ITEM_COL).set_index(ITEM_COL)
        ordered = items.reindex(self.item_ids_)
        item_texts = _join_text(ordered.reset_index(), list(self.item_text_cols))
        self.vectorizer_ = TfidfVectorizer(
            ngram_range=tuple(self.ngram_range),
            min_df=self.min_df,
            max_features=self.max_features,
            sublinear_tf=self.sublinear_tf,
        )
        corpus = list(item_texts)
        user_texts = None
        if users is not None and any(c in users.columns for c in self.user_text_cols):
            uframe = users.drop_duplicates(USER_COL).set_index(USER_COL).reindex(self.user_ids_).reset_index()
            user_texts = _join_text(uframe, list(self.user_text_cols))
            corpus += user_texts
        self.vectorizer_.fit(corpus)
        self.item_matrix_ = normalize(self.vectorizer_.transform(item_texts)).tocsr()

        uidx, iidx = self._interaction_indices(interactions)
        weights = np.ones(len(uidx))
        if RATING_COL in interactions.columns:
            r = interactions[RATING_COL].to_numpy(np.float64)
            if self.like_threshold is not None:
                weights = (r >= self.like_threshold).astype(np.float64)
            else:
                weights = r
        history = sp.csr_matrix((weights, (uidx, iidx)), shape=(len(self.user_ids_), len(self.item_ids_)))
        profile = normalize(history @ self.item_matrix_) * self.history_weight
        if user_texts is not None:
            profile = profile + normalize(self.vectorizer_.transform(user_texts))
        self.user_profiles_ = normalize(sp.csr_matrix(profile))
        return self

    def _score_known(self, u: np.ndarray) -> np.ndarray:
        scores = (self.user_profiles_[u] @ self.item_matrix_.T).toarray()
        # break ties (e.g. users with no text) by popularity, far below any similarity difference
        return scores + 1e-9 * np.log1p(self.item_counts_)[None, :]

    def score_text(self, text: str, items: Sequence | None = None) -> np.ndarray:
        """Cosine similarity of free text (a search query, a learner's interests) to items."""
        self._check_fitted()
        query = normalize(self.vectorizer_.transform([text]))
        full = (query @ self.item_matrix_.T).toarray()
        i = np.arange(len(self.item_ids_)) if items is None else self._map(list(items), self.item_index_)
        return self._take_items(full, i)[0]
