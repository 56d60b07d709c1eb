"""The demo world behind `mentorhub seed`: people, mentors and months of simulated behaviour.

`simulate(spec)` builds the whole world in memory (pure, no database) and returns a `World`
that also carries what the database never stores: each learner's hidden tastes and each
mentor's hidden quality, so tests and notebooks can check that models recover them.
`generate_world(spec, ...)` writes that world with bulk inserts and returns the row counts.

Determinism: every draw comes from one `numpy.random.Generator` and one `random.Random`, both
seeded from `spec.seed`, and nothing iterates a set or an unordered mapping; the same spec
(same seed and `until`) gives the same rows. The one exception is the password hash: argon2
salts it at random, and it is computed once per run (see `generate_world`).

Time: the simulated window is the `days` days ending with `until` (UTC). Its end, midnight
after `until`, is the world's "now": sessions before it have outcomes, sessions after it are
upcoming (requested or accepted). Every event lies inside the window.
"""
from __future__ import annotations

import random
from datetime import datetime, time, timedelta, timezone

import numpy as np

from api.demo import catalogue as cat
from api.demo.activity import _ActivityMixin, _Booking
from api.demo.people import _PeopleMixin
from api.demo.spec import (BOOKING_HORIZON_DAYS, CERTIFICATE_NAME, DAY, EMAIL_VERIFY_DELAY, HOUR,
                           LANGUAGE_TOPIC_CODES, PAGE_SIZE, TABLE_ORDER, SeedCounts, World, WorldExistsError,
                           WorldSpec, _ascii, _dt)
from api.demo.writing import _write, world_exists
from api.auth.passwords import hash_password

__all__ = ["BOOKING_HORIZON_DAYS", "CERTIFICATE_NAME", "DAY", "EMAIL_VERIFY_DELAY", "HOUR", "LANGUAGE_TOPIC_CODES",
           "PAGE_SIZE", "TABLE_ORDER", "SeedCounts", "World", "WorldExistsError", "WorldSpec", "generate_world",
           "simulate", "world_exists"]


def generate_world(spec: WorldSpec, *, demo_password: str, demo_logins: dict[str, str],
                   progress: bool = False) -> SeedCounts:
    """Simulate the world and bulk-insert it into the app's (empty) database in one transaction.

    Every generated account gets the demo password. argon2id takes ~50 ms a hash, so it is
    hashed once and that one hash is stored for every user (thousands of users in seconds);
    all accounts share the salt, which is fine for demo data and nothing else.
    """
    if world_exists():
        raise WorldExistsError("the database already has users; seed an empty database "
                               "(or pass --if-empty to skip)")
    world = simulate(spec, demo_logins=demo_logins, password_hash=hash_password(demo_password),
                     progress=progress)
    _write(world, progress=progress)
    counts = SeedCounts(world.counts())
    counts.world = world
    return counts


class _Simulator(_PeopleMixin, _ActivityMixin):
    """Builds a world: the shared draws here; people in `api.demo.people`, behaviour in `api.demo.activity`."""

    def __init__(self, spec: WorldSpec, demo_logins: dict[str, str], password_hash: str, progress: bool):
        self.spec = spec
        self.rng = np.random.default_rng(spec.seed)
        self.py = random.Random(spec.seed)
        self.demo_logins = demo_logins
        self.password_hash = password_hash
        self.progress = progress
        last = spec.last_day()
        self.now = int(datetime.combine(last + timedelta(days=1), time(), timezone.utc).timestamp())
        self.start = self.now - spec.days * DAY
        self.rows: dict[str, list[dict]] = {name: [] for name in TABLE_ORDER}
        self.events: list[tuple] = []  # (epoch, type, user, mentor, booking, payload)
        self.emails: dict[str, int] = {}
        self.topic_slugs = [t[0] for t in cat.TOPICS]
        self.topic_names = [t[1] for t in cat.TOPICS]
        self.topic_cats = [t[2] for t in cat.TOPICS]
        self.topic_pop = np.array([t[3] for t in cat.TOPICS])
        self.categories = list(cat.CATEGORY_NAMES)
        self.cat_topics = {c: [i for i, tc in enumerate(self.topic_cats) if tc == c] for c in self.categories}
        self.cat_pop = np.array([self.topic_pop[self.cat_topics[c]].sum() for c in self.categories])
        self.zone_names = [z[0] for z in cat.ZONES]
        self.zone_weights = np.array([z[1] for z in cat.ZONES]) / sum(z[1] for z in cat.ZONES)
        self.zone_info = {z[0]: z for z in cat.ZONES}
        self.bookings: list[_Booking] = []
        self._last_topic: dict[tuple[int, int], int] = {}  # (learner, mentor) -> topic of the last booking

    # -- small draws --------------------------------------------------------------------------

    def _pick(self, seq):
        return seq[self.py.randrange(len(seq))]

    def _weighted(self, weights: np.ndarray) -> int:
        cdf = np.cumsum(weights)
        return int(min(np.searchsorted(cdf, self.rng.random() * cdf[-1], side="right"), len(weights) - 1))

    def _person(self, zone: str) -> tuple[str, str]:
        origin = self._pick(self.zone_info[zone][4])
        return self._pick(cat.FIRST_NAMES[origin]), self._pick(cat.LAST_NAMES[origin])

    def _email(self, first: str, last: str) -> str:
        base = f"{_ascii(first)}.{_ascii(last)}"
        domain = self._pick(cat.EMAIL_DOMAINS)
        key = f"{base}@{domain}"
        n = self.emails.get(key, 0) + 1
        self.emails[key] = n
        return key if n == 1 else f"{base}{n}@{domain}"

    def _phone(self, zone: str) -> str:
        prefix = self.zone_info[zone][3]
        digits = "".join(str(self.py.randrange(10)) for _ in range(9))
        return f"{prefix}{digits}"

    def _topics_for(self, category_index: int, count: int, same_category: float) -> list[int]:
        """`count` distinct topic indices, the first in the category, the others mostly too."""
        in_cat = self.cat_topics[self.categories[category_index]]
        chosen = [in_cat[self._weighted(self.topic_pop[in_cat])]]
        attempts = 0
        while len(chosen) < count and attempts < 20:
            attempts += 1
            pool = in_cat if self.rng.random() < same_category else list(range(len(self.topic_slugs)))
            candidate = pool[self._weighted(self.topic_pop[pool])]
            if candidate not in chosen:
                chosen.append(candidate)
        return chosen

    def _event(self, when: int, kind: str, user: int | None, mentor: int | None = None,
               booking: int | None = None, **payload) -> None:
        if self.start <= when < self.now:
            self.events.append((when, kind, user, mentor, booking, payload))

    # -- build ---------------------------------------------------------------------------------

    def run(self) -> World:
        self._topics()
        self._admin()
        self._mentors()
        self._learners()
        self._behaviour()
        self._demo_guarantees()
        self._booking_rows()
        self._chat()
        self._event_rows()
        self._finish_mentor_aggregates()
        return World(
            spec=self.spec, starts_at=_dt(self.start), now=_dt(self.now),
            topic_ids=[i + 1 for i in range(len(self.topic_slugs))], topic_slugs=list(self.topic_slugs),
            learner_ids=[l.user_id for l in self.learners], mentor_ids=[m.user_id for m in self.mentors],
            tastes=self.tastes, price_sensitivity=self.price_sens, experience_preference=self.exp_pref,
            rating_preference=self.rating_pref, mentor_quality=np.array([m.quality for m in self.mentors]),
            rows=self.rows,
        )

def simulate(spec: WorldSpec, *, demo_logins: dict[str, str] | None = None, password_hash: str | None = None,
             progress: bool = False) -> World:
    """Build the whole world in memory from the spec (no database; the clock only for `until`'s default)."""
    if spec.learners < 1 or spec.mentors < 1 or spec.days < 1:
        raise ValueError("learners, mentors and days must be at least 1")
    demo_logins = demo_logins or {"learner": "learner@mentorhub.example",
                                  "mentor": "mentor@mentorhub.example", "admin": "admin@mentorhub.example"}
    return _Simulator(spec, demo_logins, password_hash or "", progress).run()
