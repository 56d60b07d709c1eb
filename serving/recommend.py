"""Scoring, re-ranking and reasons: from a learner and candidate mentors to a ranked, explained list.

The app (api.recommendations) gives the candidates (approved, active mentors that fit the request) as a
`Catalogue` plus an index array; serving scores them with the arm's model (or the cold-start content
model, or popularity), re-ranks with the admin's weights and explains each pick. No database here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import scipy.sparse as sp

DEFAULT_WEIGHTS = {
    "model": 1.0,  # the arm's model score (percentile among the candidates)
    "availability": 0.15,  # free in the next days
    "popularity": 0.10,  # completed sessions recently (log-scaled)
    "diversity": 0.20,  # penalty per already-picked mentor sharing a topic (greedy, MMR-style)
    "new_mentor": 0.25,  # fair-exposure boost for new mentors with few sessions
    "interest": 0.20,  # topic overlap with the learner's stated interests (cold start and beyond)
}


def merge_weights(*layers: dict | None) -> dict:
    """DEFAULT_WEIGHTS overridden by each layer in turn (admin setting, then the arm's); unknown keys dropped."""
    out = dict(DEFAULT_WEIGHTS)
    for layer in layers:
        for key, value in (layer or {}).items():
            if key in out:
                try:
                    out[key] = float(value)
                except (TypeError, ValueError):
                    continue
    return out


@dataclass
class Catalogue:
    """Approved, active mentors as arrays (built by the app, cached for a minute)."""

    mentor_ids: np.ndarray  # int64
    names: list[str]
    topics: list[tuple[int, ...]]  # topic ids per mentor
    topic_names: dict[int, str]
    rating_avg: np.ndarray  # NaN when unrated
    rating_count: np.ndarray
    popularity: np.ndarray  # completed sessions in the popularity window
    is_new: np.ndarray  # bool: new mentor (fair-exposure boost)
    bookings: sp.csc_matrix | None = None  # learners x mentors (1 = booked), for "learners who booked X"
    learner_rows: dict[int, int] = field(default_factory=dict)
    position: dict[int, int] = field(default_factory=dict)
    silent_since: np.ndarray | None = None  # epoch seconds per mentor, for the "gone quiet" rule (serving.candidates)

    def __post_init__(self) -> None:
        if not self.position:
            self.position = {int(m): i for i, m in enumerate(self.mentor_ids.tolist())}
        n_topics = (max(self.topic_names) + 1) if self.topic_names else 1
        mentors = [i for i, ts in enumerate(self.topics) for _t in ts]
        topics = [t for ts in self.topics for t in ts]
        # how often each mentor lists each topic, as a dense topics x mentors array (a few hundred kB): a learner's
        # interest topics or a topic filter are a few contiguous row picks per request
        self.topic_rows = np.zeros((max(n_topics, max(topics, default=0) + 1), len(self.mentor_ids)), np.float32)
        np.add.at(self.topic_rows, (topics, mentors), 1)
        # each mentor's topics as a bitmask (a Python int, any number of topics): "shares a topic" in the
        # greedy re-ranking is one bitwise AND
        self.topic_bits = [sum(1 << t for t in set(ts)) for ts in self.topics]
        self.log_popularity = np.log1p(self.popularity)
        # dense ranks (0 = lowest) of the cold-start orderings, so a request ranks its candidates by counting
        _, self.popularity_rank = np.unique(self.log_popularity, return_inverse=True)
        self.popularity_levels = int(self.popularity_rank.max(initial=0)) + 1
        _, self.fallback_rank = np.unique(self.log_popularity + 1e-3 * np.nan_to_num(self.rating_avg),
                                          return_inverse=True)
        self.co_bookings()  # made now rather than on the first request

    def co_bookings(self) -> tuple[np.ndarray, np.ndarray]:
        """Learners who booked both, for every pair of mentors that has any: `bookings.T @ bookings` as sorted
        keys (row x n_mentors + column) and values, made once per bookings matrix (a few tens of ms for
        200,000 bookings), so a request's co-booking counts are one binary search instead of a sparse product."""
        cached = self.__dict__.get("_co_bookings")
        if cached is None or cached[0] is not self.bookings:
            if self.bookings is None:
                keys, values = np.zeros(0, dtype=np.int64), np.zeros(0)
            else:
                both = (self.bookings.T @ self.bookings).tocoo()
                keys = both.row.astype(np.int64) * both.shape[1] + both.col
                order = np.argsort(keys)
                keys, values = keys[order], both.data[order]
            cached = self._co_bookings = (self.bookings, keys, values)
        return cached[1], cached[2]

    def __len__(self) -> int:
        return len(self.mentor_ids)


@dataclass
class Learner:
    """What the app knows about the learner making the request."""

    id: int
    interest_topics: tuple[int, ...] = ()
    interests_text: str = ""
    booked: tuple[int, ...] = ()  # mentor ids booked before (any status but rejected/expired)
    rated_well: tuple[tuple[int, float], ...] = ()  # (mentor id, the learner's average rating): "Book again"


@dataclass
class Pick:
    mentor_id: int
    position: int
    score: float
    model_score: float | None
    reason: str
    reason_kind: str


@dataclass
class Ranked:
    picks: list[Pick]
    source: str  # model | cold_start_content | cold_start_interests | popularity
    model_version: str | None


def _percentile(values: np.ndarray) -> np.ndarray:
    """Rank-based 0..1 (1 = best); equal values share the lowest rank of their group; NaN (unknown to the
    model) gets 0. (A quicksort plus a pass over the runs of equal values: a fifth of a stable sort's time.)"""
    out = np.zeros(values.shape)
    finite = np.isfinite(values)
    n = int(np.count_nonzero(finite))
    if n == 0:
        return out
    # the others sort last as +inf and are cut off (the sort is much slower with NaNs in it)
    order = np.argsort(values if n == values.size else np.where(finite, values, np.inf))[:n]
    ordered = values[order]
    # rank in sorted order: the position, or the start of the run of equal values it continues
    ranks = np.arange(n)
    ranks[1:][ordered[1:] == ordered[:-1]] = 0
    np.maximum.accumulate(ranks, out=ranks)
    out[order] = ranks / max(n - 1, 1)
    return out


def _percentile_of_keys(keys: np.ndarray) -> np.ndarray:
    """`_percentile` of small whole-number keys (>= 0): by counting instead of sorting."""
    counts = np.bincount(keys)
    below = np.cumsum(counts) - counts  # keys lower than each key: its rank
    return below[keys] / max(keys.size - 1, 1)


# the admin's hybrid blend (`ranking.hybrid_blend`) has three slots; each registered family fills one. A family
# not listed here (a learning-to-rank model over the others' scores, popularity) is already a whole ranking and
# is served alone.
FAMILY_SLOTS = {"content-tfidf": "content", "knn-baseline": "collaborative", "svd": "collaborative",
                "ease": "collaborative", "neural-hybrid": "neural"}
DEFAULT_BLEND = {"content": 0.3, "collaborative": 0.5, "neural": 0.2}  # the admin's setting before any change


def blended(model, raw: np.ndarray, learner: Learner, ids: np.ndarray, companions: dict | None,
            blend: dict | None) -> np.ndarray:
    """The base score (0..1) of a learner the arm's model knows: its percentile, blended with the companion
    models' percentiles at the admin's weights. The arm's model fills its family's slot, the companions (models of
    the other families, trained on the same data) the others; a slot with no model, or a model that does not know
    the learner, is left out and the remaining weights are rescaled. All weights of the present slots at 0: the
    arm's model alone."""
    own = _percentile(raw)
    slot = FAMILY_SLOTS.get(getattr(model, "family", ""))
    if not blend or slot is None:
        return own
    parts = {slot: own}
    for other_slot, other in (companions or {}).items():
        if other_slot in parts or other is None or float(blend.get(other_slot, 0.0)) <= 0.0:
            continue
        try:
            if other.knows(learner.id):
                parts[other_slot] = _percentile(other.scores(learner.id, ids))
        except Exception:  # noqa: BLE001 - a broken companion never fails the request: left out
            continue
    total = sum(max(float(blend.get(s, 0.0)), 0.0) for s in parts)
    if total <= 0.0:
        return own
    out = np.zeros(len(ids))
    for s, values in parts.items():
        out += max(float(blend.get(s, 0.0)), 0.0) / total * values
    return out


def score_candidates(model, learner: Learner, catalogue: Catalogue, index: np.ndarray,
                     content_model=None, overlap: np.ndarray | None = None, companions: dict | None = None,
                     blend: dict | None = None) -> tuple[np.ndarray, np.ndarray | None, str]:
    """(base score 0..1, raw model score or None, source) for the candidates `index` (positions in the catalogue);
    `overlap` is `interest_overlap` of the candidates when the caller has it already; `companions` and `blend`:
    see `blended` (without them, the arm's model alone)."""
    ids = catalogue.mentor_ids[index]
    known = model is not None and model.knows(learner.id)
    if known:
        raw = model.scores(learner.id, ids)
        return blended(model, raw, learner, ids, companions, blend), raw, "model"
    text = " ".join([learner.interests_text] + [catalogue.topic_names.get(t, "") for t in learner.interest_topics])
    if content_model is not None and text.strip():
        raw = content_model.text_scores(text, ids)
        if raw is not None and np.any(raw > 0):
            return _percentile(np.where(raw > 0, raw, np.nan)), raw, "cold_start_content"
    if learner.interest_topics:
        overlap = interest_overlap(learner, catalogue, index) if overlap is None else overlap
        if overlap.any():  # more shared interests first, the more popular among equals
            keys = overlap.astype(np.int64) * catalogue.popularity_levels + catalogue.popularity_rank[index]
            return _percentile_of_keys(keys), None, "cold_start_interests"
    if model is not None:  # an unknown learner: the model's own fallback (popularity in its training data)
        raw = model.scores(learner.id, ids)
        return _percentile(raw), raw, "model"
    # popularity, then the rating
    return _percentile_of_keys(catalogue.fallback_rank[index]), None, "popularity"


def interest_overlap(learner: Learner, catalogue: Catalogue, index: np.ndarray) -> np.ndarray:
    """How many of the learner's interest topics each candidate teaches."""
    if not learner.interest_topics:
        return np.zeros(len(index))
    rows = catalogue.topic_rows
    cols = [t for t in learner.interest_topics if t < rows.shape[0]]
    if not cols:
        return np.zeros(len(index))
    # whole rows of the topics x mentors array (small exact counts, float32 is exact), then the candidates
    counts = rows[cols[0]] if len(cols) == 1 else rows[cols].sum(axis=0)
    return counts[index].astype(np.float64)


def rerank(base: np.ndarray, learner: Learner, catalogue: Catalogue, index: np.ndarray, free_soon: np.ndarray,
           weights: dict, k: int, exclude_booked: bool = False,
           overlap: np.ndarray | None = None) -> list[tuple[int, float]]:
    """Greedy re-ranking of the candidates: (catalogue position, final score) of the top k.

    score = w_model * base + w_availability * free_soon + w_popularity * log-popularity (0..1)
          + w_new_mentor * is_new + w_interest * interest overlap (0..1)
          - w_diversity * (share of already-picked mentors that share a topic)
    """
    if len(index) == 0 or k <= 0:
        return []
    pop = catalogue.log_popularity[index]
    top_pop = pop.max()
    if top_pop > 0:
        pop /= top_pop
    overlap = np.minimum(interest_overlap(learner, catalogue, index) if overlap is None else overlap, 1.0)
    # summed in place, term by term in the formula's order (the same floating-point result as one expression);
    # the 0/1 flags are multiplied as floats without a float copy of them first
    score = weights["model"] * base
    score += np.multiply(free_soon, weights["availability"], dtype=float)
    score += weights["popularity"] * pop
    score += np.multiply(catalogue.is_new[index], weights["new_mentor"], dtype=float)
    score += weights["interest"] * overlap
    if exclude_booked and learner.booked:
        # a mask over the catalogue from the booked positions: no set operation over the candidates' ids
        booked = [catalogue.position[m] for m in learner.booked if m in catalogue.position]
        if booked:
            is_booked = np.zeros(len(catalogue), dtype=bool)
            is_booked[booked] = True
            score[is_booked[index]] = -np.inf
    # diversity needs only a short list: take the best few times k, then pick greedily
    short = min(len(index), max(k * 5, 50))
    top = np.argpartition(-score, short - 1)[:short] if short < len(index) else np.arange(len(index))
    top = top[np.argsort(-score[top], kind="stable")]
    top = top[np.isfinite(score[top])]
    scores = score[top].tolist()
    positions = index[top].tolist()
    chosen = _greedy(scores, [catalogue.topic_bits[p] for p in positions], float(weights["diversity"]), k)
    return [(positions[c], scores[c]) for c in chosen]


def _greedy(scores: list[float], bits: list[int], w_div: float, k: int) -> list[int]:
    """The diversity pass over the short list (`scores` best first, `bits` the topic bitmasks): each step takes
    the best score minus w_div x (share of the picks so far sharing a topic), the first one on ties, as numpy's
    argmax over the adjusted scores with the picks at -inf would (NaN first). Plain Python: a few dozen floats.

    With a penalty that can only lower a score (0 <= w_div, finite), a step stops scanning at the first score
    no higher than the best adjusted one found, and counts shared topics only for the candidates it looks at."""
    m = len(scores)
    stop_early = 0.0 <= w_div <= 1e100  # (bounded: a finite score minus the penalty stays finite)
    chosen: list[int] = []
    chosen_bits: list[int] = []
    taken = [False] * m
    sharing = [0] * m  # picks sharing a topic with each candidate, among the first `counted` picks
    counted = [0] * m
    for _ in range(min(k, m)):
        n = len(chosen)
        best, best_value = -1, None
        for i in range(m):
            if stop_early and best_value is not None and scores[i] <= best_value:
                break
            if taken[i]:
                value = -math.inf
            elif n and w_div:
                bits_i = bits[i]
                for b in chosen_bits[counted[i]:]:
                    if bits_i & b:
                        sharing[i] += 1
                counted[i] = n
                value = scores[i] - sharing[i] / n * w_div
            else:
                value = scores[i]
            if best_value is None or value > best_value or (value != value and best_value == best_value):
                best, best_value = i, value
            if best_value != best_value:  # NaN: argmax takes the first
                break
        chosen.append(best)
        chosen_bits.append(bits[best])
        taken[best] = True
    return chosen


def explain(position: int, learner: Learner, catalogue: Catalogue, free_soon: bool, source: str,
            co_booked: tuple[int, int] | None, booked_topics: set[int] | None = None) -> tuple[str, str]:
    """A short reason a person understands, and its kind (`booked_topics`: `_booked_topics(...)`, when the
    caller explains several picks). A reason about the learner comes first, then one about the mentor."""
    return (_learner_reason(position, learner, catalogue, co_booked, booked_topics)
            or _mentor_reason(position, catalogue, free_soon))


def _learner_reason(position: int, learner: Learner, catalogue: Catalogue, co_booked: tuple[int, int] | None,
                    booked_topics: set[int] | None) -> tuple[str, str] | None:
    """Why this mentor fits this learner: learners who booked the same, a stated interest, past sessions."""
    if co_booked is not None and co_booked[1] >= 2:
        other = catalogue.position.get(co_booked[0])
        if other is not None:
            return f"Learners who booked {catalogue.names[other]} also booked", "co_booking"
    mine = set(catalogue.topics[position])
    shared = [t for t in learner.interest_topics if t in mine]
    if shared:
        return f"Matches your interest in {catalogue.topic_names.get(shared[0], 'this topic')}", "interest"
    if learner.booked:
        booked_topics = _booked_topics(learner, catalogue) if booked_topics is None else booked_topics
        overlap = [t for t in catalogue.topics[position] if t in booked_topics]
        if overlap:
            return f"More {catalogue.topic_names.get(overlap[0], 'of what you book')}, like your past sessions", \
                "history"
    return None


def _mentor_reason(position: int, catalogue: Catalogue, free_soon: bool) -> tuple[str, str]:
    """What speaks for the mentor to anyone: new, highly rated, free soon, popular."""
    if bool(catalogue.is_new[position]):
        return "New on MentorHub: be one of their first learners", "new_mentor"
    rating = catalogue.rating_avg[position]
    if math.isfinite(rating) and rating >= 4.5 and catalogue.rating_count[position] >= 3:
        return (f"Highly rated ({rating:.1f}★), free this week" if free_soon
                else f"Highly rated ({rating:.1f}★)"), "rating"
    if free_soon:
        return "Free this week", "availability"
    topic = catalogue.topics[position][0] if catalogue.topics[position] else None
    if topic is not None and catalogue.popularity[position] > 0:
        return f"Popular with learners of {catalogue.topic_names.get(topic, 'this topic')}", "popularity"
    return "Popular with learners", "popularity"


def _booked_topics(learner: Learner, catalogue: Catalogue) -> set[int]:
    """The topics of the mentors the learner booked."""
    return {t for m in learner.booked if m in catalogue.position for t in catalogue.topics[catalogue.position[m]]}


def co_booking(learner: Learner, catalogue: Catalogue, positions: Sequence[int]) -> dict[int, tuple[int, int]]:
    """For each picked position: (a mentor the learner booked, learners who booked both), the strongest one."""
    if catalogue.bookings is None or not learner.booked or not positions:
        return {}
    # (a mentor booked twice counts once: the first is the one argmax would name)
    booked = list(dict.fromkeys(catalogue.position[m] for m in learner.booked if m in catalogue.position))
    if not booked:
        return {}
    positions = list(positions)
    both = _co_counts(catalogue, booked, positions)  # booked x picked
    strongest = both.argmax(axis=0).tolist()  # per pick, the first booked mentor with the most
    counts = both.max(axis=0).tolist()
    booked_ids = set(learner.booked)
    out = {}
    for j, pos in enumerate(positions):
        if int(catalogue.mentor_ids[pos]) in booked_ids:
            continue
        if counts[j] > 0:
            out[pos] = (int(catalogue.mentor_ids[booked[strongest[j]]]), int(counts[j]))
    return out


def _co_counts(catalogue: Catalogue, booked: list[int], picked: list[int]) -> np.ndarray:
    """`(bookings[:, booked].T @ bookings[:, picked]).toarray()`, looked up in the catalogue's co-booking table."""
    keys, values = catalogue.co_bookings()
    wanted = np.add.outer(np.asarray(booked, dtype=np.int64) * catalogue.bookings.shape[1],
                          np.asarray(picked, dtype=np.int64))
    if not keys.size:
        return np.zeros(wanted.shape, dtype=values.dtype)
    at = np.minimum(np.searchsorted(keys, wanted), keys.size - 1)
    return np.where(keys[at] == wanted, values[at], 0)


def _model_reasons(model, learner: Learner, catalogue: Catalogue, positions: list[int]) -> list[list] | None:
    """Reasons from the model itself (e.g. the learning-to-rank family), or None: never an error for the request."""
    explain_own = getattr(model, "reasons", None)
    if explain_own is None or not positions:
        return None
    try:
        return explain_own(learner.id, catalogue.mentor_ids[positions].tolist())
    except Exception:  # noqa: BLE001 - the rule-based reasons instead
        return None


def recommend(model, learner: Learner, catalogue: Catalogue, index: np.ndarray, free_soon: np.ndarray,
              weights: dict, k: int, content_model=None, exclude_booked: bool = False,
              companions: dict | None = None, blend: dict | None = None) -> Ranked:
    """Score, re-rank and explain: the top k of the candidates `index` (catalogue positions)."""
    index = np.asarray(index, dtype=np.int64)
    overlap = interest_overlap(learner, catalogue, index)
    try:
        base, raw, source = score_candidates(model, learner, catalogue, index, content_model, overlap, companions,
                                             blend)
    except Exception:  # noqa: BLE001 - a broken model must never fail the request: popularity instead
        base, raw, source = score_candidates(None, learner, catalogue, index, None, overlap)
    ranked = rerank(base, learner, catalogue, index, free_soon, weights, k, exclude_booked, overlap)
    positions = [p for p, _s in ranked]
    # only the picks need their raw score and availability: their slots in `index` (the last one, should a
    # position be there twice); a binary search when `index` is sorted (the app's), else through its inverse
    if len(index) < 2 or bool((index[1:] >= index[:-1]).all()):
        slots = (np.searchsorted(index, positions, side="right") - 1).tolist()
    else:
        slot = np.full(len(catalogue), -1, dtype=np.int64)
        slot[index] = np.arange(len(index))
        slots = slot[positions].tolist()
    co = co_booking(learner, catalogue, positions)
    booked_topics = _booked_topics(learner, catalogue) if learner.booked else None
    own = _model_reasons(model, learner, catalogue, positions) if source == "model" else None
    picks = []
    for n, ((pos, score), i) in enumerate(zip(ranked, slots), start=1):
        value = None if raw is None or i < 0 or not math.isfinite(raw[i]) else float(raw[i])
        free = bool(free_soon[i]) if 0 <= i < len(free_soon) else False
        if own and own[n - 1]:  # the model's strongest feature for this pick, in its words
            reason, kind = own[n - 1][0].text, f"model:{own[n - 1][0].feature}"
        else:
            reason, kind = explain(pos, learner, catalogue, free, source, co.get(pos), booked_topics)
        picks.append(Pick(mentor_id=int(catalogue.mentor_ids[pos]), position=n, score=round(score, 6),
                          model_score=value, reason=reason, reason_kind=kind))
    return Ranked(picks=picks, source=source if model is not None or source != "model" else "popularity",
                  model_version=model.version if model is not None and source == "model" else
                  (content_model.version if content_model is not None and source == "cold_start_content" else None))
