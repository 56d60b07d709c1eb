"""The relevance hook: where the recommendation tier blends personal recommendation scores into search.

Without a scorer `personal_scores` returns None (no personalisation) and relevance is text match times
the mentor's Bayesian rating. The recommendations blueprint registers a scorer with `set_personal_scorer`
when it is installed; `api.search.query` then blends `base + SEARCH_PERSONAL_BLEND_WEIGHT * personal` over the best
candidates (see `query.PERSONAL_CANDIDATES`) for learners who are logged in.
"""
from __future__ import annotations

from typing import Callable, Sequence

PersonalScorer = Callable[[int, Sequence[int]], dict[int, float]]

_scorer: PersonalScorer | None = None


def set_personal_scorer(scorer: PersonalScorer | None) -> None:
    """Register (or clear) the serving layer's scorer: (learner_id, mentor_ids) -> {mentor_id: score in 0..1}."""
    global _scorer
    _scorer = scorer


def personal_scores(learner_id: int | None, mentor_ids: Sequence[int]) -> dict[int, float] | None:
    """Personal scores of these mentors for this learner, or None when there is no scorer or no learner."""
    if _scorer is None or learner_id is None or not mentor_ids:
        return None
    return _scorer(learner_id, mentor_ids)
