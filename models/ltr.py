"""Learning to rank: a LightGBM lambdarank model over learner x mentor features, explaining each pick.

Features of a (learner, mentor) pair (absent side columns give an all-missing feature, which the
trees never split on):

=======================  =====================================================================
interest_overlap         share of the mentor's topics among the learner's stated interests
history_topic_overlap    share of the learner's booked topics (by weight) the mentor teaches
price_vs_booked          log(mentor price) minus the mean log price of the learner's bookings
rating_bayes             the mentor's rating shrunk toward the global mean (Bayesian average)
rating_count             log(1 + the mentor's interactions)
experience               the mentor's years of experience
availability_overlap     share of the learner's preferred hours of the week the mentor is free
timezone_distance        hours between the learner's and the mentor's time zones (0..12)
language_match           share of the learner's languages (stated, else those of the mentors
                         booked) that the mentor speaks
collaborative_score      the collaborative family's score (EASE), as a percentile of the catalogue
content_score            the content family's score (TF-IDF cosine)
booking_rate             the mentor's bookings per time shown (the exposure log), shrunk toward the
                         catalogue's rate: what learners choose when they see the mentor, apart from how
                         often the mentor is shown
=======================  =====================================================================

Training (``fit``) stacks by time: the interactions are cut at a time quantile (``split="time"``; with
``split="user"``, each learner's own latest ``inner_fraction`` of interactions); the collaborative
and content members and every history feature (booked prices, topics, ratings) are fitted on the
earlier part, and the ranker learns, per learner, to put the mentors booked in the later part
above negatives: mentors *exposed* to the learner in the later part and not booked (the exposure
log, ``exposures``; with ``like_threshold``, also those booked and rated below it), topped up with
mentors from the collaborative member's top picks (``hard_share`` of the rest: what a served list
would have shown) and mentors sampled at random from the rest of the catalogue. Then the
members and history features are fitted again on all the interactions, for scoring.

``reasons(user, items)`` gives, for each item, the features that pushed its score up the most
(LightGBM's per-feature SHAP contributions), in words: the reasons are the model's own.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import lightgbm
import numpy as np
import pandas as pd
import scipy.sparse as sp

from models.base import Recommender, hashable
from models.content import TfidfContentRecommender
from models.constants import (
    CATEGORIES_COL,
    EXPERIENCE_COL,
    HOURS_PER_WEEK,
    ITEM_COL,
    LANGUAGES_COL,
    PRICE_COL,
    RATING_COL,
    SEED,
    TEXT_COL,
    TIMESTAMP_COL,
    USER_COL,
    UTC_OFFSET_COL,
    WEEK_HOURS_COL,
)
from models.ensemble import clone
from models.implicit import EASERecommender

FEATURES = (
    "interest_overlap",
    "history_topic_overlap",
    "price_vs_booked",
    "rating_bayes",
    "rating_count",
    "experience",
    "availability_overlap",
    "timezone_distance",
    "language_match",
    "collaborative_score",
    "content_score",
    "booking_rate",
)
_F = {name: n for n, name in enumerate(FEATURES)}
FIXED_WORDS = {  # the reasons that read the same for every pick
    "rating_count": "Chosen by many learners",
    "availability_overlap": "Free at the times you prefer",
    "timezone_distance": "In a time zone close to yours",
    "language_match": "Speaks your language",
    "collaborative_score": "Learners like you booked this mentor",
    "content_score": "Their profile matches what you look for",
    "booking_rate": "Often chosen by learners who see them",
}
RATING_PRIOR_WEIGHT = 5.0
RATE_PRIOR_WEIGHT = 20.0  # exposures: a mentor shown fewer times than this leans on the catalogue's rate


@dataclass(frozen=True)
class Reason:
    """One feature's push on a pick's score: its name, the words shown to a learner, its contribution."""

    feature: str
    text: str
    contribution: float


def _lists(frame: pd.DataFrame | None, col: str, ids: np.ndarray, key: str) -> list[list] | None:
    """The list-valued column `col` of `frame` aligned to `ids` (None when the column is absent)."""
    if frame is None or col not in frame.columns or key not in frame.columns:
        return None
    series = frame.drop_duplicates(key).set_index(key)[col].reindex(ids)
    out = []
    for v in series.tolist():
        if v is None or (isinstance(v, float) and math.isnan(v)):
            out.append([])
        elif isinstance(v, str):
            out.append(v.split())
        else:
            out.append([hashable(x) for x in v])
    return out


def _numbers(frame: pd.DataFrame | None, col: str, ids: np.ndarray, key: str) -> np.ndarray:
    """The numeric column `col` aligned to `ids`, NaN where unknown (all NaN when the column is absent)."""
    if frame is None or col not in frame.columns or key not in frame.columns:
        return np.full(len(ids), np.nan)
    series = frame.drop_duplicates(key).set_index(key)[col].reindex(ids)
    return pd.to_numeric(series, errors="coerce").to_numpy(np.float64)


def _binary(rows: list[list], vocabulary: dict) -> sp.csr_matrix:
    r = [n for n, values in enumerate(rows) for v in values if v in vocabulary]
    c = [vocabulary[v] for values in rows for v in values if v in vocabulary]
    m = sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(len(rows), max(len(vocabulary), 1)))
    m.data[:] = 1.0
    return m


def _price_words(value: float) -> str:
    """The reason for a price against the learner's usual (log difference)."""
    if not math.isfinite(value):
        return ""
    if value < -0.1:
        return "Costs less than the sessions you usually book"
    return "Priced like the sessions you usually book" if value <= 0.2 else "Worth the price for you"


def _week_hours(rows: list[list]) -> sp.csr_matrix:
    """Hours of the week (0..167) per row as a 0/1 matrix."""
    return _binary([[int(h) for h in r] for r in rows], {h: h for h in range(HOURS_PER_WEEK)})


def _parts(interactions: pd.DataFrame, late: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(earlier, later) interactions by the mask `late`; both must be non-empty."""
    early = interactions[~late]
    if early.empty or not late.any():
        raise ValueError("too few interactions to learn to rank: need some before and some after the inner cut")
    return early, interactions[late]


def _row_normalise(m: sp.csr_matrix) -> sp.csr_matrix:
    totals = np.asarray(m.sum(axis=1)).ravel()
    return sp.diags(np.where(totals > 0, 1.0 / np.where(totals > 0, totals, 1.0), 0.0)) @ m


def _percentile_rows(scores: np.ndarray) -> np.ndarray:
    """Each row's scores as percentiles (0 = lowest, 1 = highest) of that row."""
    if scores.shape[1] < 2:
        return np.ones_like(scores)
    order = np.argsort(np.argsort(scores, axis=1, kind="stable"), axis=1, kind="stable")
    return order / (scores.shape[1] - 1)


class LearningToRankRecommender(Recommender):
    """LightGBM lambdarank over learner x mentor features, with per-pick reasons from SHAP contributions.

    ``fit(interactions, users, items, exposures=None)``: ``exposures`` (user, item, timestamp) are
    the recommendations and search results learners were shown; those not booked are negatives.
    """

    predicts_ratings = False

    def __init__(
        self,
        collaborative: Recommender | None = None,
        content: Recommender | None = None,
        inner_fraction: float = 0.25,
        split: str = "time",
        n_negatives: int = 20,
        exposure_share: float = 0.5,
        hard_share: float = 0.0,
        like_threshold: float | None = None,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 20,
        n_reasons: int = 3,
        price_col: str = PRICE_COL,
        seed: int = SEED,
        n_threads: int = 1,
    ):
        self.collaborative = collaborative
        self.content = content
        self.inner_fraction = inner_fraction
        self.split = split
        self.n_negatives = n_negatives
        self.exposure_share = exposure_share
        self.hard_share = hard_share
        self.like_threshold = like_threshold
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.n_reasons = n_reasons
        self.price_col = price_col
        self.seed = seed
        self.n_threads = n_threads

    # ------------------------------------------------------------------ fit
    def fit(self, interactions: pd.DataFrame, users: pd.DataFrame | None = None, items: pd.DataFrame | None = None,
            exposures: pd.DataFrame | None = None) -> "LearningToRankRecommender":
        if not 0.0 < self.inner_fraction < 1.0:
            raise ValueError("inner_fraction must be in (0, 1)")
        self._fit_index(interactions, items, users)
        self._side_features(users, items)
        rng = np.random.default_rng(self.seed)
        try:
            x, y, groups = self._ranker_rows(*self._split(interactions, rng), users, items, exposures, rng)
        except ValueError:
            # the later parts hold too few new liked items: hold out a random inner_fraction of each learner's
            # interactions instead
            x, y, groups = self._ranker_rows(*self._split_per_learner(interactions, rng, ordered=False), users,
                                             items, exposures, rng)
        self.ranker_ = lightgbm.LGBMRanker(
            objective="lambdarank", n_estimators=self.n_estimators, learning_rate=self.learning_rate,
            num_leaves=self.num_leaves, min_child_samples=self.min_child_samples, random_state=self.seed,
            n_jobs=self.n_threads, deterministic=True, force_row_wise=True, verbose=-1)
        self.ranker_.fit(pd.DataFrame(x, columns=list(FEATURES)), y, group=groups)
        self.training_rows_ = int(len(y))
        self.training_groups_ = int(len(groups))
        self.state_ = self._history(interactions, users, items, exposures)
        return self

    def _split(self, interactions: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The earlier and the later interactions: cut where the latest inner_fraction of them start (by time), or
        each learner's latest inner_fraction (``split="user"``, or no times)."""
        if self.split not in ("time", "user"):
            raise ValueError(f"split must be 'time' or 'user', not {self.split!r}")
        has_time = TIMESTAMP_COL in interactions.columns and interactions[TIMESTAMP_COL].nunique() > 1
        if self.split == "user" or not has_time:
            return self._split_per_learner(interactions, rng, has_time)
        ts = pd.to_numeric(interactions[TIMESTAMP_COL], errors="coerce").to_numpy(np.float64)
        late = ts >= np.nanquantile(ts, 1.0 - self.inner_fraction)
        if late.all():  # many interactions at the last instant
            late = ts > np.nanmin(ts)
        return _parts(interactions, late)

    def _split_per_learner(self, interactions: pd.DataFrame, rng: np.random.Generator,
                           ordered: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Each learner's latest inner_fraction of interactions as the later part (in random order unless
        `ordered`; at least one kept before the cut)."""
        order = pd.to_numeric(interactions[TIMESTAMP_COL], errors="coerce").to_numpy(np.float64) if ordered \
            else rng.random(len(interactions))
        frame = pd.DataFrame({"u": interactions[USER_COL].to_numpy(), "o": order, "r": rng.random(len(interactions))})
        position = frame.sort_values(["o", "r"], kind="stable").groupby("u", sort=False).cumcount()
        size = frame.groupby("u")["u"].transform("size")
        late = (position.reindex(frame.index) >= np.maximum(np.ceil(size * (1.0 - self.inner_fraction)), 1)).to_numpy()
        return _parts(interactions, late)

    def _side_features(self, users: pd.DataFrame | None, items: pd.DataFrame | None) -> None:
        """What the side frames say about mentors and learners (fixed over time), on the model's indices."""
        self._topic_features(users, items)
        prices = _numbers(items, self.price_col, self.item_ids_, ITEM_COL)
        self.item_log_price_ = np.where(prices > 0, np.log(np.where(prices > 0, prices, 1.0)), np.nan)
        self.item_experience_ = _numbers(items, EXPERIENCE_COL, self.item_ids_, ITEM_COL)
        self.item_offset_ = _numbers(items, UTC_OFFSET_COL, self.item_ids_, ITEM_COL)
        self.user_offset_ = _numbers(users, UTC_OFFSET_COL, self.user_ids_, USER_COL)
        self._language_features(users, items)
        self._hour_features(users, items)

    def _topic_features(self, users: pd.DataFrame | None, items: pd.DataFrame | None) -> None:
        item_topics = _lists(items, CATEGORIES_COL, self.item_ids_, ITEM_COL) or [[] for _ in self.item_ids_]
        user_topics = _lists(users, CATEGORIES_COL, self.user_ids_, USER_COL) or [[] for _ in self.user_ids_]
        self.topics_ = sorted({t for ts in item_topics for t in ts}, key=str)
        vocab = {t: n for n, t in enumerate(self.topics_)}
        self.item_topics_ = _binary(item_topics, vocab)
        self.user_interests_ = _binary(user_topics, vocab)

    def _language_features(self, users: pd.DataFrame | None, items: pd.DataFrame | None) -> None:
        item_langs = _lists(items, LANGUAGES_COL, self.item_ids_, ITEM_COL)
        user_langs = _lists(users, LANGUAGES_COL, self.user_ids_, USER_COL)
        self.languages_ = sorted({x for rows in (item_langs or [], user_langs or []) for r in rows for x in r},
                                 key=str)
        vocab = {x: n for n, x in enumerate(self.languages_)}
        self.item_languages_ = _binary(item_langs, vocab) if item_langs is not None else None
        self.user_languages_ = _row_normalise(_binary(user_langs, vocab)) if user_langs is not None else None

    def _hour_features(self, users: pd.DataFrame | None, items: pd.DataFrame | None) -> None:
        item_hours = _lists(items, WEEK_HOURS_COL, self.item_ids_, ITEM_COL)
        user_hours = _lists(users, WEEK_HOURS_COL, self.user_ids_, USER_COL)
        self.item_hours_ = _week_hours(item_hours) if item_hours else None
        self.user_hours_ = _row_normalise(_week_hours(user_hours)) if user_hours else None

    def _history(self, interactions: pd.DataFrame, users, items, exposures: pd.DataFrame | None = None) -> dict:
        """The features learned from interactions (and the exposures until the newest of them): members fitted,
        booked topics, prices, languages, ratings, bookings per exposure."""
        uidx, iidx = self._interaction_indices(interactions)
        n_users, n_items = len(self.user_ids_), len(self.item_ids_)
        hist = sp.csr_matrix((np.ones(len(uidx)), (uidx, iidx)), shape=(n_users, n_items))
        hist.data[:] = 1.0
        counts = np.bincount(iidx, minlength=n_items).astype(np.float64)
        if RATING_COL in interactions.columns:
            ratings = interactions[RATING_COL].to_numpy(np.float64)
            mu = float(np.nanmean(ratings))
            sums = np.bincount(iidx, weights=np.nan_to_num(ratings, nan=mu), minlength=n_items)
            bayes = (sums + RATING_PRIOR_WEIGHT * mu) / (counts + RATING_PRIOR_WEIGHT)
        else:
            bayes = np.full(n_items, np.nan)
        user_n = np.asarray(hist.sum(axis=1)).ravel()
        priced = ~np.isnan(self.item_log_price_)
        price_hist = hist[:, priced]
        price_n = np.asarray(price_hist.sum(axis=1)).ravel()
        price_sum = price_hist @ self.item_log_price_[priced] if priced.any() else np.zeros(n_users)
        state = {
            "seen": hist,
            "has_history": user_n > 0,
            "topic_profile": _row_normalise(hist @ self.item_topics_).tocsr(),
            "mean_log_price": np.where(price_n > 0, price_sum / np.maximum(price_n, 1.0), np.nan),
            "bayes": bayes,
            "log_count": np.log1p(counts),
            "booking_rate": self._booking_rate(counts, exposures, interactions),
        }
        if self.user_languages_ is not None:
            state["languages"] = self.user_languages_
        elif self.item_languages_ is not None:  # a learner's languages: those of the mentors they booked
            state["languages"] = _row_normalise(hist @ self.item_languages_).tocsr()
        collaborative = clone(self.collaborative) if self.collaborative is not None else EASERecommender(l2=50.0)
        state["collaborative"] = collaborative.fit(interactions, users=users, items=items)
        if self.content is not None or (items is not None and TEXT_COL in items.columns):
            content = clone(self.content) if self.content is not None else TfidfContentRecommender()
            try:
                state["content"] = content.fit(interactions, users=users, items=items)
            except ValueError:
                state["content"] = None
        return state

    def _booking_rate(self, counts: np.ndarray, exposures: pd.DataFrame | None,
                      interactions: pd.DataFrame) -> np.ndarray:
        """Per mentor: interactions per exposure until the newest interaction, shrunk toward the catalogue's rate
        (NaN without exposures)."""
        shown = np.zeros(len(self.item_ids_))
        if exposures is not None and len(exposures):
            frame = exposures
            if TIMESTAMP_COL in frame.columns and TIMESTAMP_COL in interactions.columns:
                until = pd.to_numeric(interactions[TIMESTAMP_COL], errors="coerce").max()
                frame = frame[pd.to_numeric(frame[TIMESTAMP_COL], errors="coerce") <= until]
            items = frame[ITEM_COL].map(self.item_index_).dropna().astype(np.int64).to_numpy()
            shown = np.bincount(items, minlength=len(self.item_ids_)).astype(np.float64)
        if shown.sum() == 0:
            return np.full(len(self.item_ids_), np.nan)
        rate = counts.sum() / shown.sum()
        return (counts + RATE_PRIOR_WEIGHT * rate) / (shown + RATE_PRIOR_WEIGHT)

    # ------------------------------------------------------------- features
    def _features(self, state: dict, u: np.ndarray) -> np.ndarray:
        """Features of known users `u` (internal indices) against every item: shape (len(u), n_items, F)."""
        n_items = len(self.item_ids_)
        out = np.full((len(u), n_items, len(FEATURES)), np.nan)
        item_topic_n = np.asarray(self.item_topics_.sum(axis=1)).ravel()
        if self.topics_:
            shared = (self.user_interests_[u] @ self.item_topics_.T).toarray()
            has_interests = np.asarray(self.user_interests_[u].sum(axis=1)).ravel() > 0
            out[:, :, _F["interest_overlap"]] = np.where(
                has_interests[:, None], shared / np.maximum(item_topic_n, 1.0)[None, :], np.nan)
            booked = (state["topic_profile"][u] @ self.item_topics_.T).toarray()
            out[:, :, _F["history_topic_overlap"]] = np.where(state["has_history"][u][:, None], booked, np.nan)
        out[:, :, _F["price_vs_booked"]] = self.item_log_price_[None, :] - state["mean_log_price"][u][:, None]
        out[:, :, _F["rating_bayes"]] = state["bayes"][None, :]
        out[:, :, _F["rating_count"]] = state["log_count"][None, :]
        out[:, :, _F["booking_rate"]] = state["booking_rate"][None, :]
        out[:, :, _F["experience"]] = self.item_experience_[None, :]
        if self.user_hours_ is not None and self.item_hours_ is not None:
            covered = (self.user_hours_[u] @ self.item_hours_.T).toarray()
            wants = np.asarray(self.user_hours_[u].sum(axis=1)).ravel() > 0
            out[:, :, _F["availability_overlap"]] = np.where(wants[:, None], covered, np.nan)
        gap = np.abs(self.user_offset_[u][:, None] - self.item_offset_[None, :]) % 24.0
        out[:, :, _F["timezone_distance"]] = np.minimum(gap, 24.0 - gap)
        languages = state.get("languages")
        if languages is not None and self.item_languages_ is not None:
            known = np.asarray(languages[u].sum(axis=1)).ravel() > 0
            match = (languages[u] @ self.item_languages_.T).toarray()
            out[:, :, _F["language_match"]] = np.where(known[:, None], match, np.nan)
        users = [self.user_ids_[x] for x in u.tolist()]
        items = self.item_ids_.tolist()
        out[:, :, _F["collaborative_score"]] = _percentile_rows(state["collaborative"].score_batch(users, items))
        if state.get("content") is not None:
            out[:, :, _F["content_score"]] = state["content"].score_batch(users, items)
        return out

    def _ranker_rows(self, early: pd.DataFrame, late: pd.DataFrame, users, items, exposures: pd.DataFrame | None,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """The ranker's rows: features from the earlier part's history, one group per learner with a new mentor in
        the later part."""
        state = self._history(early, users, items, exposures)
        x, y, groups, n_exposed = self._training_rows(state, late, exposures, rng)
        if len(groups) < 2:
            raise ValueError("too few learners with new bookings after the inner cut to learn to rank")
        self.exposure_negatives_ = n_exposed  # negatives that were shown (or tried and disliked), not sampled
        return x, y, groups

    def _training_rows(self, state: dict, late: pd.DataFrame, exposures: pd.DataFrame | None,
                       rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[int], int]:
        """Per learner with a new mentor in the later part: the positives, then exposed and sampled negatives;
        (features, labels, group sizes, number of exposed negatives)."""
        since = pd.to_numeric(late[TIMESTAMP_COL], errors="coerce").min() if TIMESTAMP_COL in late.columns else None
        shown = self._shown(exposures, since)
        seen = state["seen"]
        positives, disliked, touched = self._later_choices(seen, late)
        group_users = sorted(positives)
        top_collab = self._collaborative_top(state, group_users) if self.hard_share > 0 else {}
        rows_u, rows_i, labels, groups = [], [], [], []
        n_exposed = 0
        for a in group_users:
            pos = sorted(positives[a])
            banned = set(touched[a]) | set(seen[a].indices.tolist())
            # tried and rated below like_threshold: shown, chosen, not liked
            exposed = sorted((disliked.get(a, set()) - positives[a]) | {b for b in shown.get(a, ()) if b not in banned})
            exposed, others = self._negatives(banned, exposed, top_collab.get(a), rng)
            n_exposed += len(exposed)
            negatives = exposed + others
            if not negatives:
                continue
            rows_u += [a] * (len(pos) + len(negatives))
            rows_i += pos + negatives
            labels += [1] * len(pos) + [0] * len(negatives)
            groups.append(len(pos) + len(negatives))
        x = self._feature_rows(state, np.asarray(rows_u, np.int64), np.asarray(rows_i, np.int64))
        return x, np.asarray(labels, dtype=np.int64), groups, n_exposed

    def _shown(self, exposures: pd.DataFrame | None, since) -> dict[int, list[int]]:
        """Per learner (internal index): the mentors (internal indices) shown to them from `since` on."""
        shown: dict[int, list[int]] = {}
        if exposures is None or not len(exposures):
            return shown
        frame = exposures
        if since is not None and TIMESTAMP_COL in frame.columns:
            frame = frame[pd.to_numeric(frame[TIMESTAMP_COL], errors="coerce") >= since]
        eu = frame[USER_COL].map(self.user_index_)
        ei = frame[ITEM_COL].map(self.item_index_)
        keep = eu.notna() & ei.notna()
        for a, b in zip(eu[keep].astype(np.int64).tolist(), ei[keep].astype(np.int64).tolist()):
            shown.setdefault(a, []).append(b)
        return shown

    def _later_choices(self, seen: sp.csr_matrix,
                       late: pd.DataFrame) -> tuple[dict[int, set[int]], dict[int, set[int]], dict[int, set[int]]]:
        """Per learner: the new mentors of the later part liked (positives) and not liked (below like_threshold),
        and every mentor of the later part."""
        lu, li = self._interaction_indices(late)
        liked = np.ones(len(lu), dtype=bool)
        if self.like_threshold is not None and RATING_COL in late.columns:
            liked = late[RATING_COL].to_numpy(np.float64) >= self.like_threshold
        positives: dict[int, set[int]] = {}
        disliked: dict[int, set[int]] = {}
        touched: dict[int, set[int]] = {}
        for a, b, ok in zip(lu.tolist(), li.tolist(), liked.tolist()):
            touched.setdefault(a, set()).add(b)
            if not seen[a, b]:
                (positives if ok else disliked).setdefault(a, set()).add(b)
        return positives, disliked, touched

    def _collaborative_top(self, state: dict, group_users: list[int]) -> dict[int, np.ndarray]:
        """Per learner: the collaborative member's best picks (what a served list would have shown)."""
        n_items = len(self.item_ids_)
        n_top = min(n_items, max(2 * self.n_negatives, 50))
        out: dict[int, np.ndarray] = {}
        for start in range(0, len(group_users), 512):
            chunk = group_users[start:start + 512]
            scores = state["collaborative"].score_batch([self.user_ids_[x] for x in chunk], self.item_ids_.tolist())
            out.update(zip(chunk, np.argsort(-scores, axis=1, kind="stable")[:, :n_top]))
        return out

    def _negatives(self, banned: set[int], exposed: list[int], best: np.ndarray | None,
                   rng: np.random.Generator) -> tuple[list[int], list[int]]:
        """One learner's negatives: up to n_negatives x exposure_share of `exposed`, then the rest from the
        collaborative member's `best` picks (hard_share of it) and mentors drawn at random, none `banned`."""
        n_shown = int(round(self.n_negatives * self.exposure_share))
        if len(exposed) > n_shown:
            exposed = sorted(rng.choice(exposed, n_shown, replace=False).tolist())
        banned = banned | set(exposed)
        want = self.n_negatives - len(exposed)
        hard: list[int] = []
        if want > 0 and self.hard_share > 0:
            candidates = [b for b in best.tolist() if b not in banned]
            n_hard = min(int(round(want * self.hard_share)), len(candidates))
            hard = sorted(rng.choice(candidates, n_hard, replace=False).tolist()) if candidates else []
            banned |= set(hard)
            want -= len(hard)
        pool = np.setdiff1d(np.arange(len(self.item_ids_)), np.fromiter(banned, np.int64, len(banned)))
        sampled = sorted(rng.choice(pool, min(want, len(pool)), replace=False).tolist()) if want > 0 else []
        return exposed, hard + sampled

    def _feature_rows(self, state: dict, rows_u: np.ndarray, rows_i: np.ndarray) -> np.ndarray:
        """The features of the pairs (rows_u[n], rows_i[n]): per chunk of learners against every item, then the
        rows' items."""
        x = np.empty((len(rows_u), len(FEATURES)))
        unique_users, first = np.unique(rows_u, return_inverse=True)
        for start in range(0, len(unique_users), 256):
            chunk = unique_users[start:start + 256]
            block = self._features(state, chunk)
            mask = (first >= start) & (first < start + len(chunk))
            x[mask] = block[first[mask] - start, rows_i[mask]]
        return x

    # ------------------------------------------------------------- scoring
    def _score_known(self, u: np.ndarray) -> np.ndarray:
        n_items = len(self.item_ids_)
        out = np.empty((len(u), n_items))
        step = max(1, 200_000 // max(n_items, 1))
        for start in range(0, len(u), step):
            chunk = u[start:start + step]
            block = self._features(self.state_, chunk).reshape(-1, len(FEATURES))
            out[start:start + len(chunk)] = self._booster().predict(block).reshape(len(chunk), n_items)
        return out

    def _booster(self):
        return self.ranker_.booster_

    def feature_importances(self) -> dict[str, float]:
        """Total gain of each feature in the fitted ranker."""
        self._check_fitted()
        gains = self._booster().feature_importance(importance_type="gain")
        return {name: float(g) for name, g in zip(FEATURES, gains)}

    # ------------------------------------------------------------- reasons
    def contributions(self, user: Hashable, items: Sequence[Hashable]) -> tuple[np.ndarray, np.ndarray]:
        """(features, per-feature contributions to the score) of each item for a user, each (len(items), F).

        Contributions are LightGBM's SHAP values (they add up, with the bias, to the score). An unknown
        user or item gets zero contributions: its score is the fallback, not the ranker's.
        """
        self._check_fitted()
        items = list(items)
        i = self._map(items, self.item_index_)
        x = np.full((len(items), len(FEATURES)), np.nan)
        contrib = np.zeros((len(items), len(FEATURES)))
        u = self.user_index_.get(user)
        if u is None or not (i >= 0).any():
            return x, contrib
        block = self._features(self.state_, np.asarray([u], dtype=np.int64))[0]
        known = i >= 0
        x[known] = block[i[known]]
        contrib[known] = self._booster().predict(x[known], pred_contrib=True)[:, :len(FEATURES)]
        return x, contrib

    def reasons(self, user: Hashable, items: Sequence[Hashable], top: int | None = None) -> list[list[Reason]]:
        """For each item, the features that raised its score the most (strongest first), in words."""
        top = self.n_reasons if top is None else top
        items = list(items)
        x, contrib = self.contributions(user, items)
        out = []
        for row, item in enumerate(items):
            order = np.argsort(-contrib[row], kind="stable")
            picked = []
            for f in order.tolist():
                if contrib[row, f] <= 0 or len(picked) >= top:
                    break
                text = self._words(FEATURES[f], x[row, f], user, item)
                if text:
                    picked.append(Reason(FEATURES[f], text, float(contrib[row, f])))
            out.append(picked)
        return out

    def _words(self, feature: str, value: float, user: Hashable, item: Hashable) -> str:
        """A reason a learner understands, for one feature of one pick."""
        if feature in FIXED_WORDS:
            return FIXED_WORDS[feature]
        if feature in ("interest_overlap", "history_topic_overlap"):
            return self._topic_words(feature, user, item)
        if feature == "price_vs_booked":
            return _price_words(value)
        if feature == "rating_bayes":
            return f"Highly rated ({value:.1f}\u2605)" if math.isfinite(value) else "Highly rated"
        if feature == "experience":
            return f"{int(value)} years of experience" if math.isfinite(value) and value >= 1 else "Experienced"
        return ""

    def _topic_words(self, feature: str, user: Hashable, item: Hashable) -> str:
        """The topic the pick shares with the learner's interests, or with the mentors they booked."""
        u, i = self.user_index_.get(user), self.item_index_.get(item)
        if feature == "interest_overlap":
            topics = self._shared_topics(self.user_interests_, u, i)
            return f"Matches your interest in {topics[0]}" if topics else "Matches your interests"
        topics = self._shared_topics(self.state_["topic_profile"], u, i)
        return f"More {topics[0]}, like the mentors you booked" if topics else "Like the mentors you booked"

    def _shared_topics(self, profile: sp.csr_matrix, u: int | None, i: int | None) -> list:
        if u is None or i is None or not self.topics_:
            return []
        weights = profile[u].toarray().ravel() * self.item_topics_[i].toarray().ravel()
        order = np.argsort(-weights, kind="stable")
        return [self.topics_[t] for t in order.tolist() if weights[t] > 0]
