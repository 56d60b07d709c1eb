"""Candidate rules: which approved mentors may be recommended at all (the admin's `ranking.candidate_rules`).

The app gives the catalogue-wide facts (prices in one currency, when each mentor went silent, who is free
soon); the rules turn them into a mask over the catalogue. No database here.

- `exclude_booked_by_learner`: the learner's own past mentors (any booking but a declined or expired
  request) are left out of "Recommended for you"; the ones they rated well are shown in their own
  "Book again" row instead (`book_again`).
- `min_rating`: a mentor whose average rating is below it is left out; a mentor with no rating yet stays
  (there is nothing to be below, and the fair-exposure boost exists for them).
- `max_price_minor`: a mentor whose price, converted to the reference currency (USD), is above it is left
  out (0: no limit).
- `require_availability_days`: only mentors with a free slot within that many days from today, in the
  learner's time zone (0: any).
- `quiet_after_days` ("gone quiet"): a mentor is quiet when a learner's request to them has waited at least
  N days without an answer (still waiting, or expired unanswered) and they have answered (accepted or
  declined) no request made after that one. `silent_since` is, per mentor, when the oldest request they
  left unanswered after their last answered request was made (+inf: none); quiet means
  `silent_since <= now - N days`. 0: the rule is off.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

REFERENCE_CURRENCY = "USD"  # `max_price_minor` is in its minor units (the platform's rates are per 1 USD)


@dataclass(frozen=True)
class CandidateRules:
    exclude_booked_by_learner: bool = True
    min_rating: float = 0.0
    max_price_minor: int = 0
    require_availability_days: int = 0
    quiet_after_days: int = 0

    @classmethod
    def from_setting(cls, value: dict | None) -> "CandidateRules":
        """The stored setting (unknown or malformed fields keep their defaults)."""
        out = {}
        for f in fields(cls):
            raw = (value or {}).get(f.name)
            if raw is None:
                continue
            try:
                out[f.name] = bool(raw) if f.type in (bool, "bool") else (
                    float(raw) if f.type in (float, "float") else int(raw))
            except (TypeError, ValueError):
                continue
        return cls(**out)


def rule_mask(rules: CandidateRules, rating_avg: np.ndarray, reference_prices: np.ndarray | None,
              silent_since: np.ndarray | None, now_epoch: float) -> np.ndarray | None:
    """Catalogue-wide mask of the rules that do not depend on the learner (None: every mentor passes)."""
    mask = None

    def narrow(keep: np.ndarray) -> None:
        nonlocal mask
        mask = keep if mask is None else mask & keep

    if rules.min_rating > 0:
        narrow(~(rating_avg < rules.min_rating))  # NaN (not rated yet) compares False: kept
    if rules.max_price_minor > 0 and reference_prices is not None:
        narrow(reference_prices <= rules.max_price_minor)
    if rules.quiet_after_days > 0 and silent_since is not None:
        narrow(~quiet(silent_since, rules.quiet_after_days, now_epoch))
    return mask


def quiet(silent_since: np.ndarray, days: int, now_epoch: float) -> np.ndarray:
    """Mentors who have gone quiet: an unanswered request at least `days` old, no answer to any later one."""
    return silent_since <= now_epoch - days * 86400.0


def booked_mask(size: int, position: dict[int, int], booked) -> np.ndarray:
    """True at the catalogue positions of these mentor ids."""
    out = np.zeros(size, dtype=bool)
    at = [position[m] for m in booked if m in position]
    if at:
        out[at] = True
    return out
