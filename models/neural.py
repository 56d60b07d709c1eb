"""Neural hybrid recommender (PyTorch): collaborative embeddings plus content and side features.

One network, two heads trained together:

* rating head  r(u, i) = mu + b_u + b_i + <p_u, q_i>
* ranking head a softmax over the whole catalogue, logits <p_u A, q_i> + c_i, trained with a
  multinomial likelihood on the user's (denoised) interaction history, like Mult-DAE.

The user vector p_u = user embedding + normalised sum of embeddings of the items in the
user's history (SVD++ style, with input dropout) + user side features (categorical and
numeric, e.g. age, occupation, interests). The item vector q_i = item embedding + category
(genre / topic) embeddings + numeric features (year, price, experience, rating count and
mean). Items without interactions still get a content-only vector (cold start).
Training runs on CPU, deterministically for a given seed; inference uses plain numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager

import numpy as np
import pandas as pd
import scipy.sparse as sp

from models.base import Recommender, fitted_rating_scale, hashable
from models.constants import CATEGORIES_COL, ITEM_COL, RATING_COL, SEED, TEXT_COL, USER_COL

_MAX_CATEGORY_LEVELS = 64


@contextmanager
def _torch_determinism(seed: int, n_threads: int):
    import torch  # lazy: PyTorch is heavy and only training needs it

    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(n_threads)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(seed)
    try:
        yield torch
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_det)


def _standardise(x: np.ndarray) -> np.ndarray:
    if x.size == 0:
        return x
    mu = x.mean(axis=0, keepdims=True)
    sd = x.std(axis=0, keepdims=True)
    return (x - mu) / np.where(sd > 0, sd, 1.0)


def _is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _category_matrix(values: Sequence, vocabulary: dict) -> sp.csr_matrix:
    rows, cols = [], []
    for r, cats in enumerate(values):
        if _is_missing(cats):
            continue
        for c in [cats] if isinstance(cats, str) else cats:
            j = vocabulary.get(c)
            if j is not None:
                rows.append(r)
                cols.append(j)
    data = np.ones(len(rows))
    m = sp.csr_matrix((data, (rows, cols)), shape=(len(values), max(len(vocabulary), 1)))
    m.data[:] = 1.0
    counts = np.asarray(m.sum(axis=1)).ravel()
    return sp.diags(1.0 / np.sqrt(np.maximum(counts, 1.0))) @ m


def _distinct_values(column: pd.Series) -> int:
    """Distinct values of a categorical column; a list-valued cell contributes each of its values."""
    values: set = set()
    for v in column.dropna().tolist():
        if isinstance(v, (list, tuple, set, np.ndarray)):
            values.update(hashable(x) for x in v)
        else:
            values.add(hashable(v))
    return len(values)


def _side_frame(frame: pd.DataFrame | None, key: str, ids) -> pd.DataFrame | None:
    """The side-information frame indexed by `key`, one row per id in `ids` order (None without a frame)."""
    return None if frame is None else frame.drop_duplicates(key).set_index(key).reindex(ids)


def _present(cols: Sequence[str] | None, frame: pd.DataFrame | None) -> list:
    """The columns of `cols` that the frame has (none without a frame)."""
    return [c for c in (cols or []) if frame is not None and c in frame.columns]


def _is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _is_small_categorical(column: pd.Series) -> bool:
    """An object or categorical column with few distinct values (list cells, e.g. interest topics, count each value)."""
    categorical = column.dtype == object or isinstance(column.dtype, pd.CategoricalDtype)
    return categorical and _distinct_values(column) <= _MAX_CATEGORY_LEVELS


def _numeric_values(frame: pd.DataFrame | None, cols: Sequence[str]) -> list[np.ndarray]:
    """Each column as float64, missing values filled with the column's median."""
    if frame is None:
        return []
    return [frame[c].astype(np.float64).fillna(frame[c].median()).to_numpy() for c in cols]


def _rating_statistics(idx: np.ndarray, ratings: np.ndarray, n: int, global_mean: float,
                       shrinkage: float) -> list[np.ndarray]:
    """log(1 + interaction count) and the mean rating shrunk towards the global mean, per row index."""
    counts = np.bincount(idx, minlength=n).astype(np.float64)
    sums = np.bincount(idx, weights=ratings, minlength=n)
    return [np.log1p(counts), (sums + shrinkage * global_mean) / (counts + shrinkage)]


def _item_vocabulary(frame: pd.DataFrame | None, categories_col: str) -> list:
    """The sorted category names of the items (a cell is one name or a list of names)."""
    if frame is None or categories_col not in frame.columns:
        return []
    return sorted({c for cats in frame[categories_col].dropna() for c in ([cats] if isinstance(cats, str) else cats)},
                  key=str)


def _user_category_matrix(frame: pd.DataFrame | None, cols: Sequence[str], n_users: int) -> tuple[sp.csr_matrix, dict]:
    """One-hot user matrix over (column, value) pairs, and that vocabulary; list cells set one column per value."""
    vocab: dict = {}
    values: list[list] = [[] for _ in range(n_users)]
    for c in cols:
        for r, v in enumerate(frame[c].tolist()):
            if _is_missing(v):
                continue
            for x in [v] if isinstance(v, (str, int, float)) else v:
                values[r].append(vocab.setdefault((c, hashable(x)), len(vocab)))
    rows = [r for r, vs in enumerate(values) for _ in vs]
    columns = [v for vs in values for v in vs]
    return sp.csr_matrix((np.ones(len(rows)), (rows, columns)), shape=(n_users, max(len(vocab), 1))), vocab


class NeuralHybridRecommender(Recommender):
    """Multi-task neural hybrid: rating regression (MSE) plus catalogue-softmax ranking."""

    def __init__(
        self,
        n_factors: int = 64,
        n_epochs: int = 40,
        batch_users: int = 64,
        lr: float = 0.003,
        weight_decay: float = 0.0,
        l2: float = 0.1,
        history_dropout: float = 0.3,
        rating_weight: float = 1.0,
        ranking_weight: float = 1.0,
        like_threshold: float | None = 4.0,
        rating_in_ranking: float = 1.0,
        categories_col: str = CATEGORIES_COL,
        item_numeric_cols: Sequence[str] | None = None,
        user_categorical_cols: Sequence[str] | None = None,
        user_numeric_cols: Sequence[str] | None = None,
        rating_scale: tuple[float, float] | None = None,
        seed: int = SEED,
        n_threads: int = 1,
    ):
        self.n_factors = n_factors
        self.n_epochs = n_epochs
        self.batch_users = batch_users
        self.lr = lr
        self.weight_decay = weight_decay
        self.l2 = l2
        self.history_dropout = history_dropout
        self.rating_weight = rating_weight
        self.ranking_weight = ranking_weight
        self.like_threshold = like_threshold
        self.rating_in_ranking = rating_in_ranking
        self.categories_col = categories_col
        self.item_numeric_cols = item_numeric_cols
        self.user_categorical_cols = user_categorical_cols
        self.user_numeric_cols = user_numeric_cols
        self.rating_scale = rating_scale
        self.seed = seed
        self.n_threads = n_threads

    # ------------------------------------------------------------ features
    def _item_features(self, interactions: pd.DataFrame, items: pd.DataFrame | None, iidx, ratings):
        """Item category matrix (genres, topics) and standardised numeric features (given columns, rating stats)."""
        frame = _side_frame(items, ITEM_COL, self.item_ids_)
        self.item_categories_ = _item_vocabulary(frame, self.categories_col)
        cat = _category_matrix(
            frame[self.categories_col].tolist() if self.item_categories_ else [None] * len(self.item_ids_),
            {c: n for n, c in enumerate(self.item_categories_)},
        )
        cols = self.item_numeric_cols
        if cols is None and frame is not None:
            cols = [c for c in frame.columns if _is_numeric(frame[c]) and not str(c).startswith("genre_")]
        self.item_numeric_cols_ = _present(cols, frame)
        numeric = _numeric_values(frame, self.item_numeric_cols_)
        numeric += _rating_statistics(iidx, ratings, len(self.item_ids_), self.global_mean_, shrinkage=10.0)
        return cat.tocsr(), np.nan_to_num(_standardise(np.column_stack(numeric)))

    def _user_features(self, users: pd.DataFrame | None, uidx, ratings):
        """User category matrix (one column per (column, value)) and standardised numeric features."""
        frame = _side_frame(users, USER_COL, self.user_ids_)
        cat_cols = self.user_categorical_cols
        if cat_cols is None and frame is not None:
            cat_cols = [c for c in frame.columns if c != TEXT_COL and _is_small_categorical(frame[c])]
        self.user_categorical_cols_ = _present(cat_cols, frame)
        cat, self.user_vocabulary_ = _user_category_matrix(frame, self.user_categorical_cols_, len(self.user_ids_))
        num_cols = self.user_numeric_cols
        if num_cols is None and frame is not None:
            num_cols = [c for c in frame.columns if _is_numeric(frame[c])]
        self.user_numeric_cols_ = _present(num_cols, frame)
        numeric = _numeric_values(frame, self.user_numeric_cols_)
        numeric += _rating_statistics(uidx, ratings, len(self.user_ids_), self.global_mean_, shrinkage=5.0)
        return cat.tocsr(), np.nan_to_num(_standardise(np.column_stack(numeric)))

    # ------------------------------------------------------------------ fit
    def fit(self, interactions: pd.DataFrame, users: pd.DataFrame | None = None, items: pd.DataFrame | None = None):
        self._fit_index(interactions, items, users)
        self.rating_scale_ = fitted_rating_scale(interactions, self.rating_scale)
        uidx, iidx = self._interaction_indices(interactions)
        if RATING_COL in interactions.columns:
            ratings = interactions[RATING_COL].to_numpy(np.float64)
        else:
            ratings = np.ones(len(uidx))
        n_users, n_items = len(self.user_ids_), len(self.item_ids_)
        item_cat, item_num = self._item_features(interactions, items, iidx, ratings)
        user_cat, user_num = self._user_features(users, uidx, ratings)
        history = sp.csr_matrix((np.ones(len(uidx)), (uidx, iidx)), shape=(n_users, n_items))
        history.data[:] = 1.0
        target_w = np.ones(len(uidx))
        if self.like_threshold is not None:
            target_w = np.where(ratings >= self.like_threshold, 1.0, 0.0)
        targets = sp.csr_matrix((target_w, (uidx, iidx)), shape=(n_users, n_items))
        rating_rows = sp.csr_matrix((ratings, (uidx, iidx)), shape=(n_users, n_items))

        with _torch_determinism(self.seed, self.n_threads) as torch:
            net = self._build(torch, n_users, n_items, item_cat, item_num, user_cat, user_num)
            self.loss_history_ = self._train(torch, net, history, targets, rating_rows)
            self._export(torch, net, history, interacted=np.bincount(iidx, minlength=n_items) > 0)
        return self

    def _build(self, torch, n_users, n_items, item_cat, item_num, user_cat, user_num):
        nn = torch.nn
        d = self.n_factors

        def dense(m):
            return torch.tensor(m.toarray() if sp.issparse(m) else m, dtype=torch.float32)

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.item_cat = dense(item_cat)
                self.item_num = dense(item_num)
                self.user_cat = dense(user_cat)
                self.user_num = dense(user_num)
                self.user_emb = nn.Parameter(torch.randn(n_users, d) * 0.01)
                self.item_emb = nn.Parameter(torch.randn(n_items, d) * 0.01)
                self.hist_emb = nn.Parameter(torch.randn(n_items, d) * 0.01)
                self.item_cat_w = nn.Parameter(torch.randn(self.item_cat.shape[1], d) * 0.01)
                self.item_num_w = nn.Parameter(torch.randn(self.item_num.shape[1], d) * 0.01)
                self.user_cat_w = nn.Parameter(torch.randn(self.user_cat.shape[1], d) * 0.01)
                self.user_num_w = nn.Parameter(torch.randn(self.user_num.shape[1], d) * 0.01)
                self.user_bias = nn.Parameter(torch.zeros(n_users))
                self.item_bias = nn.Parameter(torch.zeros(n_items))
                self.item_side_bias = nn.Linear(self.item_cat.shape[1] + self.item_num.shape[1], 1)
                self.user_side_bias = nn.Linear(self.user_cat.shape[1] + self.user_num.shape[1], 1)
                self.rank_proj = nn.Parameter(torch.eye(d))
                self.rank_bias = nn.Parameter(torch.zeros(n_items))
                self.rank_item_emb = nn.Parameter(torch.zeros(n_items, d))

            def items(self):
                q = self.item_emb + self.item_cat @ self.item_cat_w + self.item_num @ self.item_num_w
                b = self.item_bias + self.item_side_bias(torch.cat([self.item_cat, self.item_num], 1)).squeeze(1)
                return q, b

            def users(self, u, hist):
                """(free user embedding, history + side-feature vector, bias)."""
                counts = hist.sum(1, keepdim=True).clamp(min=1.0)
                shared = ((hist @ self.hist_emb) / counts.sqrt()
                          + self.user_cat[u] @ self.user_cat_w + self.user_num[u] @ self.user_num_w)
                b = self.user_bias[u] + self.user_side_bias(torch.cat([self.user_cat[u], self.user_num[u]], 1)).squeeze(1)
                return self.user_emb[u], shared, b

        return Net()

    def _train(self, torch, net, history, targets, rating_rows):
        rng = np.random.default_rng(self.seed)
        opt = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        n_users = history.shape[0]
        mu = self.global_mean_
        losses = []
        keep = 1.0 - self.history_dropout
        for _ in range(self.n_epochs):
            order = rng.permutation(n_users)
            total = 0.0
            for start in range(0, n_users, self.batch_users):
                batch = np.sort(order[start : start + self.batch_users])
                full_hist = history[batch].toarray()
                kept = rng.random(full_hist.shape) < keep if self.history_dropout > 0 else np.ones_like(full_hist, bool)
                hist = full_hist * kept
                hist_t = torch.tensor(hist, dtype=torch.float32)
                u_t = torch.tensor(batch, dtype=torch.long)
                q, bi = net.items()
                free, shared, bu = net.users(u_t, hist_t)
                p = free + shared
                loss = torch.zeros(())
                r = rating_rows[batch].tocoo()
                if r.nnz and self.rating_weight > 0:
                    rows = torch.tensor(r.row, dtype=torch.long)
                    cols = torch.tensor(r.col, dtype=torch.long)
                    pred = mu + bu[rows] + bi[cols] + (p[rows] * q[cols]).sum(1)
                    y = torch.tensor(r.data, dtype=torch.float32)
                    loss = loss + self.rating_weight * ((pred - y) ** 2).mean()
                    loss = loss + self.l2 * ((p[rows] ** 2).sum(1).mean() + (q[cols] ** 2).sum(1).mean()
                                             + (bi[cols] ** 2).mean() + (bu[rows] ** 2).mean())
                if self.ranking_weight > 0:
                    # fold-in training: predict the held-out part of the history from the kept part,
                    # with the kept items masked out of the softmax (as at recommendation time)
                    held_out = targets[batch].toarray() * ~kept if self.history_dropout > 0 else targets[batch].toarray()
                    t = torch.tensor(held_out, dtype=torch.float32)
                    logits = (shared @ net.rank_proj) @ (q + net.rank_item_emb).T + net.rank_bias
                    if self.history_dropout > 0:
                        logits = logits.masked_fill(torch.tensor(hist > 0), -1e9)
                    logp = torch.log_softmax(logits, dim=1)
                    nll = -(logp * t).sum(1) / t.sum(1).clamp(min=1.0)
                    loss = loss + self.ranking_weight * nll.mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item() * len(batch)
            losses.append(total / n_users)
        return losses

    def _export(self, torch, net, history, interacted):
        with torch.no_grad():
            q, bi = net.items()
            q = q - net.item_emb * torch.tensor(~interacted, dtype=torch.float32)[:, None]
            bi = bi - net.item_bias * torch.tensor(~interacted, dtype=torch.float32)
            hist = torch.tensor(history.toarray(), dtype=torch.float32)
            free, shared, bu = net.users(torch.arange(history.shape[0]), hist)
            p = free + shared
            self.item_factors_ = q.numpy().astype(np.float64)
            self.item_biases_ = bi.numpy().astype(np.float64)
            self.user_factors_ = p.numpy().astype(np.float64)
            self.user_biases_ = bu.numpy().astype(np.float64)
            self.rank_user_factors_ = (shared @ net.rank_proj).numpy().astype(np.float64)
            self.rank_item_biases_ = net.rank_bias.numpy().astype(np.float64)
            self.rank_item_factors_ = (q + net.rank_item_emb).numpy().astype(np.float64)

    # ------------------------------------------------------------ predict
    def _predict_known(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        ku, ki = u >= 0, i >= 0
        uu, ii = np.maximum(u, 0), np.maximum(i, 0)
        est = np.full(len(u), self.global_mean_)
        est += np.where(ku, self.user_biases_[uu], 0.0) + np.where(ki, self.item_biases_[ii], 0.0)
        both = ku & ki
        est[both] += np.einsum("nf,nf->n", self.user_factors_[uu[both]], self.item_factors_[ii[both]])
        return np.clip(est, *self.rating_scale_)

    def _score_known(self, u: np.ndarray) -> np.ndarray:
        logits = self.rank_user_factors_[u] @ self.rank_item_factors_.T + self.rank_item_biases_[None, :]
        if self.rating_in_ranking:
            est = self.user_biases_[u][:, None] + self.item_biases_[None, :] + self.user_factors_[u] @ self.item_factors_.T
            logits = logits + self.rating_in_ranking * np.clip(self.global_mean_ + est, *self.rating_scale_)
        return logits

    def _fallback_scores(self) -> np.ndarray:
        return self.rank_item_biases_
