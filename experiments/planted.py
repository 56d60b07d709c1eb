"""Worlds with planted tastes: what learners weigh is known, so a recommender can be checked against the truth.

`generate(PlantedSpec(...))` builds a world in memory (pure numpy/pandas, no database, no clock): topics,
mentors, learners and their bookings, with the hidden quantities behind them. The bench
(`mentorhub bench planted`) writes the training part into the app's tables, runs the product's pipeline and
serving on it, and scores what comes out with the functions at the end of this module.

The world model (every draw from one `numpy.random.Generator` seeded with `spec.seed`):

- topics: `TOPICS`, four categories of four.
- mentor j: 1-3 topics S_j (the first anywhere, the others mostly in the same category); a price p_j in USD
  cents, log-normal around $60; years of experience (loosely tied to price); a hidden quality
  q_j ~ Beta(2, 2); a hidden visibility v_j ~ LogNormal(0, VISIBILITY_SIGMA), independent of quality.
- learner i: hidden topic tastes theta_i ~ Dirichlet (0.05 everywhere, +3 / +1.5 / +0.8 on 1-3 focus
  topics), of which the two strongest focus topics are declared as interests (what the app knows);
  a budget b_i in USD cents, log-normal around $60; hidden weights of price w_p,i ~ LogNormal(ln 2.5, 0.3)
  and of quality w_q,i ~ LogNormal(ln 2.5, 0.3).
- hidden utility:  u_ij = A * m_ij + w_q,i * q_j - w_p,i * o_ij,  A = INTEREST_WEIGHT,
  with interest match m_ij = sum of theta_it over t in S_j (0..1) and over-budget o_ij = max(0, ln(p_j / b_i)).
- bookings: each learner makes 3 + Poisson(EXTRA_BOOKINGS) bookings at uniform times in the window; all
  bookings are played in time order. At each, the learner searches a topic t ~ theta_i and is shown a slate of
  SLATE_SIZE mentors they have not booked, drawn without replacement (Gumbel top-k) with weights
  (v_j * (1 + n_j)) ** EXPOSURE_BIAS * exp(TOPIC_BOOST * [t in S_j]), n_j being the mentor's bookings so far (the
  exposure bias: visible and popular mentors are shown more, the rich get richer, whatever their quality or price),
  and books j from the slate with probability softmax(u_ij / TEMPERATURE).
  A learner never books the same mentor twice, so every booking is of a mentor new to the learner.
- ratings: a review follows a booking with probability REVIEW_PROBABILITY, rating
  clip(round(1 + 4 * sigmoid(u_ij - 2.5) + N(0, 0.5)), 1, 5).
- hold-out: each learner's last HOLDOUT bookings (by time) are held out; the rest is the training split (the
  only part the product sees, with the exposures of its bookings).
- planted best: per learner, the K mentors of highest u_ij among those not booked in training.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd

from models.constants import ITEM_COL, RATING_COL, TIMESTAMP_COL, USER_COL
from models.implicit import ItemKNNRecommender
from models.popularity import PopularityRecommender

K = 10
DAY = 86_400
INTEREST_WEIGHT = 4.0
VISIBILITY_SIGMA = 0.8
EXPOSURE_BIAS = 1.0
SLATE_SIZE = 12
TOPIC_BOOST = 3.0
TEMPERATURE = 0.5
EXTRA_BOOKINGS = 3.0
REVIEW_PROBABILITY = 0.7
HOLDOUT = 2
POPULARITY, ITEM_KNN, ORACLE = "baseline: popularity", "baseline: item-knn", "planted utility (oracle)"

TOPICS = (  # slug, name, category
    ("python", "Python", "programming"), ("javascript", "JavaScript", "programming"),
    ("system-design", "System design", "programming"), ("devops", "DevOps", "programming"),
    ("machine-learning", "Machine learning", "data"), ("sql", "SQL", "data"),
    ("statistics", "Statistics", "data"), ("data-engineering", "Data engineering", "data"),
    ("ux-design", "UX design", "design"), ("product-design", "Product design", "design"),
    ("illustration", "Illustration", "design"), ("figma", "Figma", "design"),
    ("product-management", "Product management", "career"), ("interviewing", "Interviewing", "career"),
    ("leadership", "Leadership", "career"), ("public-speaking", "Public speaking", "career"),
)


@dataclass(frozen=True)
class PlantedSpec:
    """Sizes, the window and the seed of a planted world."""

    learners: int = 600
    mentors: int = 120
    days: int = 120
    seed: int = 1
    now: datetime = datetime(2026, 3, 2, tzinfo=timezone.utc)  # the world's "now": every booking is before it
    holdout: int = HOLDOUT

    def __post_init__(self) -> None:
        if self.learners < 1 or self.mentors < SLATE_SIZE or self.days < 1 or self.holdout < 1:
            raise ValueError(f"need learners >= 1, mentors >= {SLATE_SIZE}, days >= 1 and holdout >= 1")


@dataclass
class PlantedWorld:
    """A generated world: what the app gets (profiles, training bookings and exposures) and the hidden truth."""

    spec: PlantedSpec
    topics: pd.DataFrame  # id, slug, name, category
    mentors: pd.DataFrame  # mentor_id, name, topic_ids, price_minor, years, headline; hidden: quality, visibility
    learners: pd.DataFrame  # learner_id, name, topic_ids (declared), interests, budget_minor; hidden: weights
    bookings: pd.DataFrame  # booking_id, learner_id, mentor_id, topic_id, requested_at, held_out, rating
    exposures: pd.DataFrame  # at, learner_id, booking_id, mentor_ids (the slate), held_out
    tastes: np.ndarray  # learners x topics (hidden)
    utility: np.ndarray  # learners x mentors: u_ij (hidden)
    starts_at: datetime = field(default=None)

    @property
    def learner_ids(self) -> np.ndarray:
        return self.learners["learner_id"].to_numpy(np.int64)

    @property
    def mentor_ids(self) -> np.ndarray:
        return self.mentors["mentor_id"].to_numpy(np.int64)

    def training(self) -> pd.DataFrame:
        return self.bookings[~self.bookings["held_out"]].reset_index(drop=True)

    def held_out(self) -> dict[int, set[int]]:
        """Per learner: the mentors of the held-out bookings."""
        frame = self.bookings[self.bookings["held_out"]]
        out: dict[int, set[int]] = {}
        for learner, mentor in zip(frame["learner_id"].tolist(), frame["mentor_id"].tolist()):
            out.setdefault(int(learner), set()).add(int(mentor))
        return out

    def seen(self) -> dict[int, set[int]]:
        """Per learner: the mentors booked in the training split."""
        frame = self.training()
        out: dict[int, set[int]] = {int(i): set() for i in self.learner_ids.tolist()}
        for learner, mentor in zip(frame["learner_id"].tolist(), frame["mentor_id"].tolist()):
            out[int(learner)].add(int(mentor))
        return out

    def planted_best(self, k: int = K) -> dict[int, list[int]]:
        """Per learner: the k mentors of highest hidden utility among those not booked in training."""
        seen, mentors = self.seen(), self.mentor_ids
        out = {}
        for row, learner in enumerate(self.learner_ids.tolist()):
            u = self.utility[row].copy()
            u[np.isin(mentors, list(seen[learner]))] = -np.inf
            order = np.argsort(-u, kind="stable")[:k]
            out[learner] = [int(mentors[j]) for j in order if np.isfinite(u[j])]
        return out


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def generate(spec: PlantedSpec) -> PlantedWorld:
    """The world of this spec (the same spec always gives the same world)."""
    rng = np.random.default_rng(spec.seed)
    topics = pd.DataFrame({"id": np.arange(1, len(TOPICS) + 1), "slug": [t[0] for t in TOPICS],
                           "name": [t[1] for t in TOPICS], "category": [t[2] for t in TOPICS]})
    mentors, membership = _mentors(rng, spec.mentors)
    learners, tastes = _learners(rng, spec.mentors, spec.learners)
    utility = _utility(mentors, learners, tastes, membership)
    start = spec.now - timedelta(days=spec.days)
    rows, slates = _play_bookings(rng, spec, tastes, membership, utility, mentors["visibility"].to_numpy())
    for row in rows:
        row["requested_at"] = start + timedelta(seconds=row["requested_at"])
    bookings = pd.DataFrame(rows)
    bookings.insert(0, "booking_id", np.arange(1, len(bookings) + 1))
    last = bookings.groupby("learner_id").cumcount(ascending=False)  # 0 = the learner's newest booking
    bookings["held_out"] = (last < spec.holdout).to_numpy()
    exposures = pd.DataFrame({"at": bookings["requested_at"] - timedelta(seconds=60),
                              "learner_id": bookings["learner_id"], "booking_id": bookings["booking_id"],
                              "mentor_ids": slates, "held_out": bookings["held_out"]})
    return PlantedWorld(spec=spec, topics=topics, mentors=mentors, learners=learners, bookings=bookings,
                        exposures=exposures, tastes=tastes, utility=utility, starts_at=start)


def _topic_set(rng: np.random.Generator, count: int, same_category: float) -> list[int]:
    """`count` distinct topic indices: the first anywhere, each other one in the first's category with
    probability `same_category`."""
    first = int(rng.integers(len(TOPICS)))
    in_category = [t for t, (_, _, category) in enumerate(TOPICS) if category == TOPICS[first][2]]
    chosen = [first]
    while len(chosen) < count:
        pool = in_category if rng.random() < same_category else range(len(TOPICS))
        candidate = int(rng.choice(list(pool)))
        if candidate not in chosen:
            chosen.append(candidate)
    return chosen


def _mentors(rng: np.random.Generator, count: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Mentors (ids 1..count) with their hidden quality and visibility, and the mentors x topics 0/1 matrix."""
    membership = np.zeros((count, len(TOPICS)))
    rows = []
    for j in range(count):
        topic_idx = _topic_set(rng, 1 + int(rng.choice(3, p=[0.4, 0.4, 0.2])), 0.8)
        membership[j, topic_idx] = 1.0
        price_usd = float(np.exp(rng.normal(np.log(60.0), 0.5)))
        years = int(np.clip(round(2 + 3 * np.log(price_usd / 20) + rng.normal(0, 2.5)), 1, 30))
        names = " and ".join(TOPICS[t][1] for t in topic_idx)
        rows.append({
            "mentor_id": j + 1, "name": f"Mentor {j + 1:04d}", "topic_ids": sorted(t + 1 for t in topic_idx),
            "price_minor": int(max(5, round(price_usd / 5) * 5) * 100), "years": years,
            "headline": f"{names} mentor, {years} years of practice",
            "quality": float(rng.beta(2.0, 2.0)), "visibility": float(np.exp(rng.normal(0.0, VISIBILITY_SIGMA))),
        })
    return pd.DataFrame(rows), membership


def _learners(rng: np.random.Generator, n_mentors: int, count: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Learners (ids n_mentors+1..) with their declared interests and hidden weights, and their hidden tastes."""
    tastes = np.zeros((count, len(TOPICS)))
    rows = []
    for i in range(count):
        focus = _topic_set(rng, 1 + int(rng.choice(3, p=[0.35, 0.4, 0.25])), 0.75)
        alpha = np.full(len(TOPICS), 0.05)
        for rank, t in enumerate(focus):
            alpha[t] += (3.0, 1.5, 0.8)[rank]
        tastes[i] = rng.dirichlet(alpha)
        declared = [t for t in focus[:2] if tastes[i, t] >= 0.1] or [int(np.argmax(tastes[i]))]
        budget_usd = float(np.exp(rng.normal(np.log(60.0), 0.45)))
        rows.append({
            "learner_id": n_mentors + i + 1, "name": f"Learner {i + 1:05d}", "topic_ids": sorted(t + 1 for t in declared),
            "interests": "I want to get better at " + " and ".join(TOPICS[t][1] for t in declared),
            "budget_minor": int(round(budget_usd * 100)),
            "price_weight": float(np.exp(rng.normal(np.log(2.5), 0.3))),
            "quality_weight": float(np.exp(rng.normal(np.log(2.5), 0.3))),
        })
    return pd.DataFrame(rows), tastes


def _utility(mentors: pd.DataFrame, learners: pd.DataFrame, tastes: np.ndarray, membership: np.ndarray) -> np.ndarray:
    """u_ij = A * m_ij + w_q,i * q_j - w_p,i * o_ij (learners x mentors)."""
    price = mentors["price_minor"].to_numpy(np.float64)
    budget = learners["budget_minor"].to_numpy(np.float64)
    match = tastes @ membership.T  # L x M, 0..1
    over = np.maximum(0.0, np.log(price[None, :] / budget[:, None]))
    return (INTEREST_WEIGHT * match + learners["quality_weight"].to_numpy()[:, None] * mentors["quality"].to_numpy()[None, :]
            - learners["price_weight"].to_numpy()[:, None] * over)


def _play_bookings(rng: np.random.Generator, spec: PlantedSpec, tastes: np.ndarray, membership: np.ndarray,
                   utility: np.ndarray, visibility: np.ndarray) -> tuple[list[dict], list[list[int]]]:
    """Every booking, played in time order so that popularity grows as it goes (`requested_at` in seconds from
    the window's start), and the slate shown before each."""
    n_learners, n_mentors = utility.shape
    window = spec.days * DAY
    plays = []  # (second, learner index)
    for i in range(n_learners):
        count = 3 + int(rng.poisson(EXTRA_BOOKINGS))
        plays.extend((int(second), i) for second in np.sort(rng.integers(3600, window - 3 * 3600, count)).tolist())
    plays.sort()
    booked_count = np.zeros(n_mentors)
    booked: list[set[int]] = [set() for _ in range(n_learners)]
    rows, slates = [], []
    for second, i in plays:
        open_ = np.array([j for j in range(n_mentors) if j not in booked[i]], dtype=np.int64)
        if len(open_) == 0:
            continue
        slate = _slate(rng, tastes[i], membership, open_, visibility[open_] * (1.0 + booked_count[open_]))
        p = np.exp((utility[i, slate] - utility[i, slate].max()) / TEMPERATURE)
        j = int(slate[rng.choice(len(slate), p=p / p.sum())])
        booked[i].add(j)
        booked_count[j] += 1
        teaches = np.flatnonzero(membership[j])
        topic = int(teaches[np.argmax(tastes[i, teaches])])
        rating = np.nan
        if rng.random() < REVIEW_PROBABILITY:
            rating = float(np.clip(round(1 + 4 * _sigmoid(utility[i, j] - 2.5) + rng.normal(0, 0.5)), 1, 5))
        rows.append({"learner_id": n_mentors + i + 1, "mentor_id": j + 1, "topic_id": topic + 1,
                     "requested_at": second, "rating": rating})
        slates.append([int(m) + 1 for m in slate])
    return rows, slates


def _slate(rng: np.random.Generator, taste: np.ndarray, membership: np.ndarray, open_: np.ndarray,
           reach: np.ndarray) -> np.ndarray:
    """The learner looks for a topic of their tastes and is shown SLATE_SIZE of the `open_` mentors: Gumbel
    top-k with weights reach ** EXPOSURE_BIAS * exp(TOPIC_BOOST * [teaches the topic])."""
    searched = int(rng.choice(len(TOPICS), p=taste))
    weight = np.log(reach) * EXPOSURE_BIAS + np.where(membership[open_, searched] > 0, TOPIC_BOOST, 0.0)
    keys = weight + rng.gumbel(size=len(open_))
    return open_[np.argsort(-keys, kind="stable")[:SLATE_SIZE]]


# ------------------------------------------------------------------ scoring


def precision_at_k(recs: dict[int, list[int]], relevant: dict[int, set[int]], k: int = K) -> float:
    """Mean over the learners with relevant items of |top k ∩ relevant| / k (a learner with no list scores 0)."""
    users = [u for u, items in relevant.items() if items]
    if not users:
        raise ValueError("no learner with relevant items")
    return float(np.mean([len(set(recs.get(u, [])[:k]) & relevant[u]) / k for u in users]))


def overlap_at_k(recs: dict[int, list[int]], best: dict[int, list[int]], k: int = K) -> float:
    """Mean over learners of |top k ∩ planted best k| / k."""
    users = [u for u, items in best.items() if items]
    if not users:
        raise ValueError("no learner with a planted best list")
    return float(np.mean([len(set(recs.get(u, [])[:k]) & set(best[u][:k])) / k for u in users]))


def booked_share(recs: dict[int, list[int]], seen: dict[int, set[int]], k: int = K) -> float:
    """Share of the recommended slots that are mentors the learner already booked (in training)."""
    slots = [m in seen.get(u, set()) for u, items in recs.items() for m in items[:k]]
    return float(np.mean(slots)) if slots else 0.0


def _interactions(world: PlantedWorld) -> pd.DataFrame:
    train = world.training()
    return pd.DataFrame({USER_COL: train["learner_id"].to_numpy(np.int64),
                         ITEM_COL: train["mentor_id"].to_numpy(np.int64),
                         RATING_COL: train["rating"].fillna(4.0).to_numpy(np.float64),
                         TIMESTAMP_COL: (pd.to_datetime(train["requested_at"], utc=True).astype("int64") // 10**9)})


def top_k_of(model, world: PlantedWorld, k: int = K) -> dict[int, list[int]]:
    """Each learner's top k mentors by a fitted recommender, never one booked in training."""
    catalogue = world.mentor_ids
    learners, seen = world.learner_ids.tolist(), world.seen()
    scores = np.asarray(model.score_batch(learners, catalogue.tolist()), dtype=np.float64)
    return top_k_from_scores(scores, learners, catalogue, seen, k)


def top_k_from_scores(scores: np.ndarray, learners: list[int], catalogue: np.ndarray, seen: dict[int, set[int]],
                      k: int = K) -> dict[int, list[int]]:
    """Top k columns of each row of a learners x catalogue score matrix, seen mentors and NaN scores excluded."""
    out = {}
    for row, learner in enumerate(learners):
        s = np.where(np.isfinite(scores[row]), scores[row], -np.inf)
        s[np.isin(catalogue, list(seen.get(learner, ())))] = -np.inf
        order = np.argsort(-s, kind="stable")[:k]
        out[learner] = [int(catalogue[j]) for j in order if np.isfinite(s[j])]
    return out


def baselines(world: PlantedWorld, k: int = K) -> dict[str, dict[int, list[int]]]:
    """Reference lists computed here on the training split: popularity, item-kNN (cosine on binary
    interactions) and the planted utility itself (the ceiling: it knows the hidden tastes)."""
    interactions = _interactions(world)
    items = pd.DataFrame({"item_id": world.mentor_ids})
    popularity = PopularityRecommender().fit(interactions, items=items)
    item_knn = ItemKNNRecommender().fit(interactions, items=items)
    return {POPULARITY: top_k_of(popularity, world, k), ITEM_KNN: top_k_of(item_knn, world, k),
            ORACLE: world.planted_best(k)}


def score(world: PlantedWorld, recs: dict[int, list[int]], k: int = K) -> dict[str, float]:
    """P@k on the held-out bookings, overlap@k with the planted best, and the share of already-booked picks."""
    return {f"p_at_{k}": round(precision_at_k(recs, world.held_out(), k), 4),
            f"overlap_at_{k}": round(overlap_at_k(recs, world.planted_best(k), k), 4),
            "booked_share": round(booked_share(recs, world.seen(), k), 4)}


def verdict(rows: dict[str, dict], served: str = "served champion", k: int = K) -> dict[str, bool]:
    """The goal of issue 18: the served list beats every family alone and item-kNN on both figures, and at
    least doubles popularity's P@k."""
    p, o = f"p_at_{k}", f"overlap_at_{k}"
    mine = rows[served]
    others = [name for name, row in rows.items() if row.get("kind") == "family" or name == ITEM_KNN]
    return {
        "beats_every_family_and_item_knn_on_p": all(mine[p] > rows[n][p] for n in others),
        "beats_every_family_and_item_knn_on_overlap": all(mine[o] > rows[n][o] for n in others),
        "doubles_popularity_p": mine[p] >= 2 * rows[POPULARITY][p],
    }


def format_table(rows: dict[str, dict], k: int = K) -> str:
    """The figures as a text table, one row per ranking."""
    p, o = f"p_at_{k}", f"overlap_at_{k}"
    width = max(len(name) for name in rows) + 2
    lines = [f"{'ranking':<{width}}{'kind':<10}{f'P@{k}':>8}{f'overlap@{k}':>12}{'booked':>9}"]
    for name, row in rows.items():
        lines.append(f"{name:<{width}}{row.get('kind', ''):<10}{row[p]:>8.4f}{row[o]:>12.4f}"
                     f"{row['booked_share']:>9.3f}")
    return "\n".join(lines)
