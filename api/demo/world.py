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

import heapq
import math
import random
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import click
import numpy as np

from models import clock
from api.demo import catalogue as cat

DAY = 86_400
HOUR = 3_600
PAGE_SIZE = 10
BOOKING_HORIZON_DAYS = 21  # how far ahead learners book
EMAIL_VERIFY_DELAY = 600

# Order of insertion (foreign keys first); also the keys of the counts returned.
TABLE_ORDER = (
    "topics", "users", "user_roles", "uploads", "learner_profiles", "learner_topics", "mentor_profiles",
    "mentor_topics", "certifications", "availability_rules", "availability_exceptions", "chat_rooms",
    "messages", "bookings", "payments", "payment_checkouts", "refunds", "reviews", "learner_ratings", "events",
)

LANGUAGE_TOPIC_CODES = {"english": "en", "spanish": "es", "french": "fr", "german": "de", "japanese": "ja",
                        "mandarin": "zh"}
CERTIFICATE_NAME = "demo-certificate-{id:05d}.pdf"  # an upload of its mentor's, as the media route serves


class WorldExistsError(click.ClickException):
    """The database already has users: the demo world goes into an empty database only."""


@dataclass(frozen=True)
class WorldSpec:
    """What to generate: sizes, the simulated period and the random seed."""

    learners: int = 400
    mentors: int = 80
    days: int = 120
    seed: int = 42
    until: date | None = None  # last simulated day (UTC); None: today

    def last_day(self) -> date:
        return self.until or clock.today()


@dataclass
class World:
    """A generated world: the rows of every table plus the hidden truths behind them."""

    spec: WorldSpec
    starts_at: datetime  # first simulated instant (UTC)
    now: datetime  # end of the window: midnight after `until`
    topic_ids: list[int]
    topic_slugs: list[str]
    learner_ids: list[int]
    mentor_ids: list[int]
    tastes: np.ndarray  # learners x topics, each row sums to 1 (hidden)
    price_sensitivity: np.ndarray  # per learner (hidden)
    experience_preference: np.ndarray  # per learner (hidden)
    rating_preference: np.ndarray  # per learner (hidden)
    mentor_quality: np.ndarray  # per mentor, 0..1 (hidden)
    rows: dict[str, list[dict]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {name: len(self.rows[name]) for name in TABLE_ORDER}

    def top_topic_id(self, learner_id: int) -> int:
        row = self.tastes[self.learner_ids.index(learner_id)]
        return self.topic_ids[int(np.argmax(row))]

    def quality_of(self, mentor_id: int) -> float:
        return float(self.mentor_quality[self.mentor_ids.index(mentor_id)])


class SeedCounts(dict):
    """Rows written per table (what the CLI prints), with the generated `world` attached."""

    world: World


def world_exists() -> bool:
    """True when the database already has users (inside an app context)."""
    import sqlalchemy as sa

    from api.extensions import db
    from api.tables import User

    return db.session.execute(sa.select(User.id).limit(1)).first() is not None


def generate_world(spec: WorldSpec, *, demo_password: str, demo_logins: dict[str, str],
                   progress: bool = False) -> SeedCounts:
    """Simulate the world and bulk-insert it into the app's (empty) database in one transaction.

    Every generated account gets the demo password. argon2id takes ~50 ms a hash, so it is
    hashed once and that one hash is stored for every user (thousands of users in seconds);
    all accounts share the salt, which is fine for demo data and nothing else.
    """
    from api.auth.passwords import hash_password

    if world_exists():
        raise WorldExistsError("the database already has users; seed an empty database "
                               "(or pass --if-empty to skip)")
    world = simulate(spec, demo_logins=demo_logins, password_hash=hash_password(demo_password),
                     progress=progress)
    _write(world, progress=progress)
    counts = SeedCounts(world.counts())
    counts.world = world
    return counts


# ---------------------------------------------------------------------------------------------
# time helpers


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(int(epoch), timezone.utc)


@lru_cache(maxsize=None)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=200_000)
def _utc_offset(zone: str, ordinal: int) -> int:
    """The zone's UTC offset in seconds at local noon of a date (for session times only)."""
    d = date.fromordinal(ordinal)
    return int(datetime(d.year, d.month, d.day, 12, tzinfo=_zone(zone)).utcoffset().total_seconds())


def _local_date(epoch: int, zone: str) -> date:
    return datetime.fromtimestamp(epoch, _zone(zone)).date()


def _hm(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace("'", "")


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# ---------------------------------------------------------------------------------------------
# the simulation


@dataclass
class _Mentor:
    index: int
    user_id: int
    first: str
    zone: str
    category: str
    topics: list[int]  # topic indices
    years: int
    quality: float
    accept_rate: float
    price_minor: int
    currency: str
    price_usd: float
    minutes: int
    status: str
    joined: int  # epoch: searchable from (approved mentors)
    rules: dict[int, list[tuple[int, int]]]  # weekday -> [(start_min, end_min)] local
    exceptions: dict[date, list[tuple[int, int]]]  # date -> replacement windows ([] = day off)
    busy: set[int] = field(default_factory=set)  # slot starts (epoch) taken by any booking
    slot_cache: dict[int, list[int]] = field(default_factory=dict)

    def slots_on(self, day: date) -> list[int]:
        """Slot starts (UTC epoch) on a local date, from the exceptions or the weekly rules."""
        key = day.toordinal()
        slots = self.slot_cache.get(key)
        if slots is None:
            windows = self.exceptions[day] if day in self.exceptions else self.rules.get(day.weekday(), [])
            tz = _zone(self.zone)
            slots = []
            for start, end in windows:
                minute = start
                while minute + self.minutes <= end:
                    local = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=tz)
                    slots.append(int(local.timestamp()))
                    minute += self.minutes
            self.slot_cache[key] = slots
        return slots

    def free_slots(self, earliest: int, latest: int, limit: int = 4) -> list[int]:
        found: list[int] = []
        day = _local_date(earliest, self.zone)
        last = _local_date(latest, self.zone)
        while day <= last and len(found) < limit:
            for slot in self.slots_on(day):
                if earliest <= slot <= latest and slot not in self.busy:
                    found.append(slot)
                    if len(found) >= limit:
                        break
            day += timedelta(days=1)
        return found


@dataclass
class _Learner:
    index: int
    user_id: int
    first: str
    zone: str
    currency: str
    joined: int
    rate: float  # sessions a day
    propensity: float  # booking propensity multiplier
    budget_usd: float
    favourites: list[tuple[int, int]] = field(default_factory=list)  # (mentor index, topic index)


@dataclass
class _Booking:
    id: int
    learner: int
    mentor: int
    topic: int
    requested: int
    starts: int
    ends: int
    price_minor: int
    currency: str
    note: str
    source: str
    status: str = "requested"
    status_reason: str | None = None
    updated: int = 0
    accepted_at: int | None = None
    refund: tuple[int, int, str] | None = None  # (time, amount, reason)


class _Simulator:
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

    def _topics(self) -> None:
        for i, (slug, name, category, _pop, _kw) in enumerate(cat.TOPICS):
            self.rows["topics"].append({"id": i + 1, "slug": slug, "name": name, "category": category})

    def _user(self, uid: int, email: str, full_name: str, zone: str, currency: str, created: int,
              verified: bool, roles: list[str], phone: str | None) -> None:
        from api.tables import Role

        self.rows["users"].append({
            "id": uid, "email": email, "phone": phone, "password_hash": self.password_hash,
            "full_name": full_name, "timezone": zone, "currency": currency, "is_active_account": True,
            "email_verified_at": _dt(created + EMAIL_VERIFY_DELAY) if verified else None,
            "phone_verified_at": _dt(created + 2 * EMAIL_VERIFY_DELAY) if verified and phone else None,
            "session_version": 1, "created_at": _dt(created),
        })
        for role in roles:
            self.rows["user_roles"].append({"id": len(self.rows["user_roles"]) + 1, "user_id": uid,
                                            "role": Role(role), "granted_at": _dt(created)})

    def _admin(self) -> None:
        created = self.start - 400 * DAY
        self._user(1, self.demo_logins["admin"], "Morgan Ellis", "Europe/London", "GBP", created, True,
                   ["admin"], "+447700900123")

    def _mentors(self) -> None:
        from api.tables import MentorStatus

        spec, rng = self.spec, self.rng
        T = len(self.topic_slugs)
        self.mentors: list[_Mentor] = []
        span = self.now - self.start
        for i in range(spec.mentors):
            uid = 2 + i
            demo = i == 0
            zone = "Europe/Berlin" if demo else self.zone_names[self._weighted(self.zone_weights)]
            first, last = ("Lena", "Hartmann") if demo else self._person(zone)
            currency = self.zone_info[zone][2]
            if demo:
                category, topics = "programming", [self.topic_slugs.index("python"),
                                                   self.topic_slugs.index("data-engineering")]
            else:
                ci = self._weighted(self.cat_pop)
                category = self.categories[ci]
                topics = self._topics_for(ci, 1 + self._weighted(np.array([0.35, 0.45, 0.20])), 0.8)
            years = 9 if demo else int(np.clip(round(rng.gamma(2.2, 4.0)), 1, 35))
            quality = 0.9 if demo else float(np.clip(rng.beta(4, 2) + 0.004 * min(years, 20) - 0.04, 0.05, 0.99))
            accept_rate = 0.97 if demo else float(0.80 + 0.18 * rng.random())
            price_usd = cat.CATEGORY_BASE_PRICE_USD[category] * (0.65 + 0.07 * min(years, 20)) \
                * float(np.exp(rng.normal(0, 0.25)))
            units = price_usd / cat.USD_PER_UNIT[currency]
            step = 100 if currency == "INR" else 5
            units = max(step, int(round(units / step)) * step)
            price_minor = units * 100
            minutes = 60 if demo else int(self._pick((30, 45, 60, 60, 60, 60, 90)))
            if demo:
                status = "approved"
            else:
                r = rng.random()
                status = "approved" if r < 0.86 else "pending" if r < 0.95 else "rejected"
            if status == "approved":
                joined = self.start - int(rng.uniform(30, 700) * DAY)
                if not demo and rng.random() < 0.15:  # newcomers during the window
                    joined = self.start + int(rng.uniform(0, 0.8) * span)
                created, reviewed = joined - int(rng.uniform(1, 5) * DAY), joined
            elif status == "pending":
                created, reviewed = self.now - int(rng.uniform(0.5, min(20, spec.days)) * DAY), None
                joined = created
            else:
                created = self.now - int(rng.uniform(2, max(3, spec.days)) * DAY)
                reviewed = min(created + int(rng.uniform(1, 4) * DAY), self.now - HOUR)
                joined = created
            rules = self._availability(demo)
            mentor = _Mentor(i, uid, first, zone, category, topics, years, quality, accept_rate, price_minor,
                             currency, units * cat.USD_PER_UNIT[currency], minutes, status, joined, rules, {})
            self._exceptions(mentor)
            self.mentors.append(mentor)

            email = self.demo_logins["mentor"] if demo else self._email(first, last)
            self._user(uid, email, f"{first} {last}", zone, currency, created, True, ["mentor"], self._phone(zone))
            role = self._pick(cat.ROLES[category])
            companies = self.py.sample(cat.COMPANIES, 3)
            topic_text = " and ".join(self.topic_names[t] for t in topics[:2])
            fmt = dict(role=role, role_lower=role.lower(), years=years, topics=topic_text, company=companies[0],
                       company2=companies[1], first=first)
            past_roles = [f"{role} at {companies[0]}"]
            if years >= 4:
                past_roles.append(f"{self._pick(cat.ROLES[category])} at {companies[1]}")
            if years >= 10:
                past_roles.append(f"{self._pick(cat.ROLES[category])} at {companies[2]}")
            languages = ["en"]
            native = self.zone_info[zone][5]
            if native:
                languages.append(native)
            for t in topics:
                code = LANGUAGE_TOPIC_CODES.get(self.topic_slugs[t])
                if code and code not in languages:
                    languages.append(code)
            mentor_status = MentorStatus(status)
            self.rows["mentor_profiles"].append({
                "user_id": uid, "headline": self._pick(cat.HEADLINE_TEMPLATES).format(**fmt)[:200],
                "bio": self._pick(cat.BIO_TEMPLATES).format(**fmt), "years_experience": years,
                "past_roles": past_roles, "languages": languages, "price_minor": price_minor,
                "currency": currency, "session_minutes": minutes, "timezone": zone, "status": mentor_status,
                "status_reason": self._pick(cat.MENTOR_REJECT_REASONS) if status == "rejected" else None,
                "reviewed_at": _dt(reviewed) if reviewed else None, "picture_path": None, "video_path": None,
                "video_url": None, "accepts_questions": bool(rng.random() < 0.4), "rating_count": 0,
                "rating_sum": 0, "created_at": _dt(created), "updated_at": _dt(reviewed or created),
            })
            for t in sorted(topics):
                self.rows["mentor_topics"].append({"mentor_id": uid, "topic_id": t + 1})
            n_certs = 1 + self._weighted(np.array([0.5, 0.35, 0.15]))
            for name, issuer in self.py.sample(cat.CERTIFICATIONS[category], min(n_certs, 3)):
                cert_id = len(self.rows["certifications"]) + 1
                document = None if status == "pending" else CERTIFICATE_NAME.format(id=cert_id)
                self.rows["certifications"].append({
                    "id": cert_id, "mentor_id": uid, "name": name, "issuer": issuer,
                    "year": int(_dt(self.now).year - self.py.randrange(0, min(years, 15) + 1)),
                    "document_path": document,
                })
                if document:
                    self.rows["uploads"].append({
                        "id": len(self.rows["uploads"]) + 1, "owner_id": uid, "kind": "document",
                        "stored_name": document, "content_type": "application/pdf", "size_bytes": len(_SAMPLE_PDF),
                        "created_at": _dt(created)})
            for weekday in sorted(rules):
                for start, end in rules[weekday]:
                    self.rows["availability_rules"].append({
                        "id": len(self.rows["availability_rules"]) + 1, "mentor_id": uid, "weekday": weekday,
                        "start_time": _hm(start), "end_time": _hm(end), "timezone": zone})
            for day in sorted(mentor.exceptions):
                windows = mentor.exceptions[day] or [(None, None)]
                for start, end in windows:
                    self.rows["availability_exceptions"].append({
                        "id": len(self.rows["availability_exceptions"]) + 1, "mentor_id": uid, "on_date": day,
                        "start_time": _hm(start) if start is not None else None,
                        "end_time": _hm(end) if end is not None else None,
                        "note": "Reduced hours" if start is not None else self._pick(cat.EXCEPTION_NOTES)})
        self.mentor_price_log = np.array([math.log(m.price_usd / 40.0) for m in self.mentors])
        self.mentor_exp = np.array([math.log1p(m.years) for m in self.mentors])
        self.mentor_quality = np.array([m.quality for m in self.mentors])
        self.mentor_price_usd = np.array([m.price_usd for m in self.mentors])
        self.mentor_joined = np.array([m.joined for m in self.mentors])
        self.mentor_topic_matrix = np.zeros((len(self.mentors), T))
        for m in self.mentors:
            self.mentor_topic_matrix[m.index, m.topics] = 1.0
        self.topic_mentors = [
            np.array([m.index for m in self.mentors if t in m.topics and m.status == "approved"], dtype=np.int64)
            for t in range(T)
        ]

    def _availability(self, demo: bool) -> dict[int, list[tuple[int, int]]]:
        patterns = (
            [(9 * 60, 12 * 60)], [(13 * 60, 17 * 60)], [(18 * 60, 21 * 60)], [(7 * 60, 9 * 60), (18 * 60, 20 * 60)],
            [(10 * 60, 13 * 60), (15 * 60, 18 * 60)], [(17 * 60, 20 * 60)], [(9 * 60, 17 * 60)],
        )
        if demo:
            return {d: [(9 * 60, 12 * 60), (14 * 60, 18 * 60)] for d in range(5)}
        main = patterns[self.py.randrange(len(patterns))]
        weekdays = sorted(self.py.sample(range(5), self.py.randint(2, 5)))
        rules = {d: list(main) for d in weekdays}
        if self.rng.random() < 0.45:
            for d in sorted(self.py.sample((5, 6), self.py.randint(1, 2))):
                rules[d] = [(10 * 60, 14 * 60)]
        if main[-1][1] <= 17 * 60 and self.rng.random() < 0.3 and weekdays:
            rules[weekdays[-1]] = rules[weekdays[-1]] + [(19 * 60, 21 * 60)]
        return rules

    def _exceptions(self, mentor: _Mentor) -> None:
        first = _dt(self.start).date()
        horizon = (self.now - self.start) // DAY + BOOKING_HORIZON_DAYS
        n = self.py.randint(1, 4)
        days = sorted(self.py.sample(range(horizon), min(n, horizon)))
        for offset in days:
            mentor.exceptions[first + timedelta(days=offset)] = []
        if self.rng.random() < 0.25:
            offset = self.py.randrange(horizon)
            day = first + timedelta(days=offset)
            if day not in mentor.exceptions:
                mentor.exceptions[day] = [(10 * 60, 12 * 60)]

    def _learners(self) -> None:
        spec, rng = self.spec, self.rng
        T = len(self.topic_slugs)
        L = spec.learners
        self.learners: list[_Learner] = []
        self.tastes = np.zeros((L, T))
        self.price_sens = np.zeros(L)
        self.exp_pref = np.zeros(L)
        self.rating_pref = np.zeros(L)
        span = self.now - self.start
        python = self.topic_slugs.index("python")
        for j in range(L):
            uid = 2 + spec.mentors + j
            demo = j == 0
            zone = "Europe/London" if demo else self.zone_names[self._weighted(self.zone_weights)]
            first, last = ("Sam", "Rivera") if demo else self._person(zone)
            currency = self.zone_info[zone][2]
            # hidden tastes: a Dirichlet concentrated on 1-3 topics, mostly of one category
            if demo:
                focus = [python, self.topic_slugs.index("sql"), self.topic_slugs.index("machine-learning")]
            else:
                focus = self._topics_for(self._weighted(self.cat_pop), 1 + self._weighted(np.array([.35, .4, .25])),
                                         0.75)
            alpha = np.full(T, 0.02)
            for rank, t in enumerate(focus):
                alpha[t] += (4.0, 1.8, 1.0)[rank]
            taste = rng.dirichlet(alpha)
            if demo:
                taste = 0.5 * taste + 0.5 * (np.arange(T) == python)
            self.tastes[j] = taste
            self.price_sens[j] = float(np.exp(rng.normal(math.log(0.8), 0.45))) * (1.5 if currency == "INR" else 1.0)
            self.exp_pref[j] = abs(rng.normal(0.5, 0.35))
            self.rating_pref[j] = abs(rng.normal(0.8, 0.4))
            if demo:
                joined = self.start - 200 * DAY
                rate, propensity = 0.6, 3.0
            else:
                joined = self.start - int(rng.uniform(1, 400) * DAY) if rng.random() < 0.65 \
                    else self.start + int(rng.uniform(0, 0.9) * span)
                rate = float(np.exp(rng.normal(math.log(0.065), 0.8)))
                propensity = float(np.exp(rng.normal(0, 0.4)))
            budget = float(np.exp(rng.normal(math.log(60), 0.4)) / self.price_sens[j] * 0.8)
            self.learners.append(_Learner(j, uid, first, zone, currency, joined, rate, propensity, budget))

            verified = demo or rng.random() > 0.03
            email = self.demo_logins["learner"] if demo else self._email(first, last)
            self._user(uid, email, f"{first} {last}", zone, currency, joined, verified, ["learner"],
                       self._phone(zone))
            order = [int(t) for t in np.argsort(-taste, kind="stable")]
            declared = [t for t, p in zip(order[:3], (0.85, 0.6, 0.4)) if taste[t] > 0.05 and rng.random() < p]
            if rng.random() < 0.25:
                noise = self._weighted(self.topic_pop)
                if noise not in declared:
                    declared.append(noise)
            if not declared:
                declared = [order[0]]
            if demo:
                declared = [python, self.topic_slugs.index("sql")]
            template = self._pick(cat.INTEREST_TEMPLATES[self.topic_cats[declared[0]]])
            interests = template.format(topics=" and ".join(self.topic_names[t] for t in declared[:2]))
            slots = []
            if rng.random() < 0.7:
                start_hour = self._pick((17, 18, 19, 20))
                for d in sorted(self.py.sample(range(5), self.py.randint(1, 3))):
                    slots.append({"weekday": d, "start": f"{start_hour:02d}:00", "end": f"{start_hour + 3:02d}:00"})
            if rng.random() < 0.5 or not slots:
                slots.append({"weekday": self._pick((5, 6)), "start": "09:00", "end": "13:00"})
            self.rows["learner_profiles"].append({
                "user_id": uid, "interests": interests, "preferred_slots": slots, "picture_path": None,
                "created_at": _dt(joined), "updated_at": _dt(joined)})
            for t in sorted(declared):
                self.rows["learner_topics"].append({"learner_id": uid, "topic_id": t + 1})
        self.learner_mentor_match = self.tastes @ self.mentor_topic_matrix.T  # L x M

    # -- behaviour -----------------------------------------------------------------------------

    def _sessions(self) -> list[tuple[int, int]]:
        """(time, learner index) of every visit, in time order."""
        rng = self.rng
        hours = np.array([1, 0.5, 0.3, 0.2, 0.2, 0.3, 1, 2, 3, 3, 3, 3, 4, 4, 3, 3, 3, 4, 6, 8, 9, 8, 5, 2.5])
        hour_cdf = np.cumsum(hours) / hours.sum()
        sessions = []
        for learner in self.learners:
            active_from = max(self.start, learner.joined)
            span_days = (self.now - active_from) / DAY
            n = int(rng.poisson(learner.rate * span_days))
            if n == 0:
                continue
            day_offsets = rng.uniform(0, span_days, n)
            local_hours = np.searchsorted(hour_cdf, rng.random(n))
            seconds = rng.integers(0, 3600, n)
            first_ordinal = _dt(active_from).date().toordinal()
            for off, hour, sec in zip(day_offsets.tolist(), local_hours.tolist(), seconds.tolist()):
                ordinal = first_ordinal + int(off)
                midnight = (ordinal - 719_163) * DAY  # date.fromordinal(719163) is 1970-01-01
                when = midnight - _utc_offset(learner.zone, ordinal) + int(hour) * HOUR + int(sec)
                if active_from <= when < self.now - 15 * 60:
                    sessions.append((when, learner.index))
        sessions.sort()
        return sessions

    def _behaviour(self) -> None:
        rng = self.rng
        M = len(self.mentors)
        self.rating_count = np.zeros(M)
        self.rating_sum = np.zeros(M)
        self.pending_ratings: list[tuple[int, int, int, int, int]] = []  # (time, seq, mentor, rating, learner)
        self.reviews: list[dict] = []
        sessions = self._sessions()
        bar = _bar(len(sessions), "simulating", self.progress)
        for n, (when, li) in enumerate(sessions, start=1):
            if n % 2000 == 0:
                bar.update(2000)
            self._apply_ratings(when)
            learner = self.learners[li]
            if learner.favourites and rng.random() < 0.3:
                self._rebook(when, learner)
            else:
                self._search_session(when, learner)
        bar.update(len(sessions) % 2000)
        bar.close()

    def _apply_ratings(self, until: int) -> None:
        heap = self.pending_ratings
        while heap and heap[0][0] <= until:
            _, _, m, rating, li = heapq.heappop(heap)
            self.rating_count[m] += 1
            self.rating_sum[m] += rating
            if rating >= 4:
                topic = self._last_topic.get((li, m))
                if topic is not None and (m, topic) not in self.learners[li].favourites:
                    self.learners[li].favourites.append((m, topic))

    def _bayes(self, idx: np.ndarray) -> np.ndarray:
        return (self.rating_sum[idx] + 4.0 * 5) / (self.rating_count[idx] + 5)

    def _search_session(self, when: int, learner: _Learner) -> None:
        rng, li = self.rng, learner.index
        topic = self._weighted(self.tastes[li])
        slug = self.topic_slugs[topic]
        r = rng.random()
        keywords = cat.TOPICS[topic][4]
        if r < 0.3:
            query, filters = "", {"topic": slug}
        else:
            query = self._pick(keywords) + self._pick(cat.QUERY_SUFFIXES)
            filters = {"topic": slug} if r < 0.55 else {}
        budget = None
        if rng.random() < 0.25:
            budget = learner.budget_usd
            local = budget / cat.USD_PER_UNIT[learner.currency]
            step = 500 if learner.currency == "INR" else 5
            filters["max_price_minor"] = int(max(step, round(local / step) * step) * 100)
            filters["currency"] = learner.currency
            budget = filters["max_price_minor"] / 100 * cat.USD_PER_UNIT[learner.currency]
        cands = self.topic_mentors[topic]
        cands = cands[self.mentor_joined[cands] <= when]
        if budget is not None:
            cands = cands[self.mentor_price_usd[cands] <= budget * 1.0001]
        found = len(cands)
        bayes = self._bayes(cands)
        order = np.lexsort((cands, -(bayes + 0.05 * np.log1p(self.rating_count[cands]))))[:PAGE_SIZE]
        cands, bayes = cands[order], bayes[order]
        self._event(when, "search", learner.user_id, query=query, filters=filters,
                    results=[self.mentors[m].user_id for m in cands.tolist()], result_count=found, page=1)
        if not found:
            return
        u = (2.0 * self.learner_mentor_match[li, cands]
             - self.price_sens[li] * self.mentor_price_log[cands]
             + 0.35 * self.exp_pref[li] * self.mentor_exp[cands]
             + 1.5 * self.rating_pref[li] * (bayes - 4.0)
             + 0.6 * (self.mentor_quality[cands] - 0.6)
             + 0.5 * rng.gumbel(size=len(cands)))
        positions = np.arange(len(cands))
        examined = rng.random(len(cands)) < 0.9 * 0.8 ** positions
        viewed = examined & (rng.random(len(cands)) < _sigmoid(1.5 * u - 3.5))
        viewed_positions = np.flatnonzero(viewed)[:4]
        t = when
        for pos in viewed_positions.tolist():
            t += int(rng.integers(10, 90))
            mid = self.mentors[int(cands[pos])].user_id
            self._event(t, "click", learner.user_id, mid, position=pos, source="search", query=query)
            t += int(rng.integers(1, 5))
            self._event(t, "profile_view", learner.user_id, mid, position=pos, source="search")
            t += int(rng.integers(20, 240))
        if not len(viewed_positions):
            return
        best = int(viewed_positions[np.argmax(u[viewed_positions])])
        p_book = _sigmoid(1.5 * u[best] - 1.5) * learner.propensity * 0.3
        if rng.random() < min(p_book, 0.95):
            self._book(t + int(rng.integers(30, 300)), learner, int(cands[best]), topic, "search")

    def _rebook(self, when: int, learner: _Learner) -> None:
        m, topic = learner.favourites[self.py.randrange(len(learner.favourites))]
        mentor = self.mentors[m]
        self._event(when, "profile_view", learner.user_id, mentor.user_id, source="history")
        if self.rng.random() < 0.6 * min(learner.propensity, 1.5):
            self._book(when + int(self.rng.integers(30, 300)), learner, m, topic, "history")

    def _book(self, when: int, learner: _Learner, m: int, topic: int, source: str,
              forced_status: str | None = None) -> _Booking | None:
        rng = self.rng
        if when >= self.now:
            return None
        mentor = self.mentors[m]
        lead = int(rng.uniform(0.5, 10) * DAY) if forced_status is None else DAY
        slots = mentor.free_slots(when + max(lead, 6 * HOUR), when + BOOKING_HORIZON_DAYS * DAY)
        if not slots:
            return None
        start = slots[0] if forced_status else slots[self.py.randrange(len(slots))]
        mentor.busy.add(start)
        booking = _Booking(len(self.bookings) + 1, learner.index, m, topic, when, start,
                           start + mentor.minutes * 60, mentor.price_minor, mentor.currency,
                           self._pick(cat.BOOKING_NOTES), source, updated=when)
        self.bookings.append(booking)
        self._event(when, "booking_request", learner.user_id, mentor.user_id, booking.id,
                    topic=self.topic_slugs[topic], starts_at=_dt(start).isoformat(), price_minor=mentor.price_minor,
                    currency=mentor.currency, source=source)
        self._last_topic[(learner.index, m)] = topic
        self._outcome(booking, learner, mentor, forced_status)
        return booking

    def _transition(self, booking: _Booking, when: int, status: str, by: str, reason: str | None = None) -> bool:
        """Move the booking to `status` at `when` if that is before now; False when it is not."""
        if when >= self.now:
            return False
        booking.status, booking.updated = status, when
        if reason is not None:
            booking.status_reason = reason
        self._event(when, "booking_outcome", self.learners[booking.learner].user_id,
                    self.mentors[booking.mentor].user_id, booking.id, status=status, by=by)
        return True

    def _outcome(self, b: _Booking, learner: _Learner, mentor: _Mentor, forced: str | None) -> None:
        rng = self.rng
        until_start = b.starts - b.requested
        delay = int(min(rng.exponential(8 * HOUR) + 600, max(until_start - HOUR, 600)))
        r = rng.random()
        if forced == "requested":
            return
        if forced is None and r < 0.03:
            self._transition(b, min(b.requested + 48 * HOUR, b.starts), "expired", "system")
            return
        if forced is None and r > mentor.accept_rate:
            self._transition(b, b.requested + delay, "rejected", "mentor", self._pick(cat.REJECT_REASONS))
            return
        accepted_at = b.requested + delay
        if forced == "accepted":
            accepted_at = min(accepted_at, self.now - HOUR)
        if not self._transition(b, accepted_at, "accepted", "mentor"):
            return
        b.accepted_at = accepted_at
        if forced:
            return
        r = rng.random()
        if r < 0.06:
            when = int(rng.uniform(accepted_at, b.starts))
            reason = self._pick(cat.LEARNER_CANCEL_REASONS)
            if self._transition(b, when, "cancelled_by_learner", "learner", reason):
                full = b.starts - when >= 24 * HOUR
                b.refund = (when, b.price_minor if full else b.price_minor // 2,
                            "Cancelled by learner" + ("" if full else " (less than 24 h notice)"))
            return
        if r < 0.08:
            when = int(rng.uniform(accepted_at, b.starts))
            if self._transition(b, when, "cancelled_by_mentor", "mentor", self._pick(cat.MENTOR_CANCEL_REASONS)):
                b.refund = (when, b.price_minor, "Cancelled by mentor")
            return
        if r < 0.11:
            self._transition(b, b.starts + 20 * 60, "no_show", "mentor", "Learner did not join")
            return
        if not self._transition(b, b.ends, "completed", "system"):
            return
        demo = learner.index == 0
        if demo or rng.random() < 0.75:
            match = self.tastes[learner.index, b.topic] / self.tastes[learner.index].max()
            latent = 0.8 + 3.4 * mentor.quality + 1.0 * match + rng.normal(0, 0.55)
            rating = int(np.clip(round(latent), 1, 5))
            when = b.ends + int(rng.uniform(0.2, 72) * HOUR)
            if when < self.now:
                text = ""
                if demo or rng.random() < 0.6:
                    text = self._pick(cat.REVIEW_TEXTS[rating]).format(first=mentor.first,
                                                                      topic=self.topic_names[b.topic])
                reply_at = when + int(rng.uniform(2, 48) * HOUR)
                reply = self._pick(cat.MENTOR_REPLIES) if text and rng.random() < 0.2 and reply_at < self.now else None
                self.reviews.append({"booking_id": b.id, "learner_id": learner.user_id, "mentor_id": mentor.user_id,
                                     "rating": rating, "text": text, "mentor_reply": reply,
                                     "replied_at": _dt(reply_at) if reply else None, "hidden": False,
                                     "reported_count": 0, "created_at": _dt(when),
                                     "updated_at": _dt(reply_at if reply else when)})
                self._event(when, "rating", learner.user_id, mentor.user_id, b.id, rating=rating,
                            topic=self.topic_slugs[b.topic], has_text=bool(text))
                heapq.heappush(self.pending_ratings, (when, b.id, mentor.index, rating, learner.index))
        if rng.random() < 0.5:
            when = b.ends + int(rng.uniform(0.2, 24) * HOUR)
            if when < self.now:
                self.rows["learner_ratings"].append({
                    "id": len(self.rows["learner_ratings"]) + 1, "booking_id": b.id, "learner_id": learner.user_id,
                    "rating": int(self._pick((3, 4, 4, 5, 5, 5))), "created_at": _dt(when)})

    def _demo_guarantees(self) -> None:
        """The demo learner has an upcoming booking; the demo mentor has a request to answer."""
        demo_learner, demo_mentor = self.learners[0], self.mentors[0]
        python = self.topic_slugs.index("python")
        upcoming = [b for b in self.bookings if b.learner == 0 and b.starts >= self.now
                    and b.status in ("requested", "accepted")]
        if not upcoming:
            self._book(self.now - 3 * HOUR, demo_learner, 0, python, "search", forced_status="accepted")
        requested = [b for b in self.bookings if b.mentor == 0 and b.status == "requested" and b.starts >= self.now]
        if not requested and len(self.learners) > 1:
            other = self.learners[1 + self.py.randrange(len(self.learners) - 1)]
            self._book(self.now - 2 * HOUR, other, 0, python, "search", forced_status="requested")

    # -- rows ----------------------------------------------------------------------------------

    def _booking_rows(self) -> None:
        from api.tables import BookingStatus, PaymentStatus

        fee_share = _platform_fee_percent() / 100.0
        for b in self.bookings:
            status = BookingStatus(b.status)
            self.rows["bookings"].append({
                "id": b.id, "learner_id": self.learners[b.learner].user_id, "mentor_id": self.mentors[b.mentor].user_id,
                "topic_id": b.topic + 1, "starts_at": _dt(b.starts), "ends_at": _dt(b.ends), "status": status,
                "note": b.note, "status_reason": b.status_reason, "price_minor": b.price_minor,
                "currency": b.currency,
                "video_link": f"https://meet.jit.si/mentorhub-demo-{b.id:06d}" if b.accepted_at else None,
                "respond_by": _dt(min(b.requested + 48 * HOUR, b.starts)),
                "created_at": _dt(b.requested), "updated_at": _dt(b.updated)})
            pending = status == BookingStatus.REQUESTED
            if b.accepted_at is None and not pending:
                continue
            # the learner's card is held when requesting, captured when the mentor accepts; refunds follow cancellations
            refunded = b.refund[1] if b.refund else 0
            pay_status = PaymentStatus.AUTHORIZED if pending else PaymentStatus.CAPTURED
            if b.refund:
                pay_status = PaymentStatus.REFUNDED if refunded == b.price_minor else PaymentStatus.PARTIALLY_REFUNDED
            captured = 0 if pending else b.price_minor
            payment_id = len(self.rows["payments"]) + 1
            self.rows["payments"].append({
                "id": payment_id, "booking_id": b.id, "gateway": "sandbox", "provider_ref": f"sbx_pay_{b.id:08d}",
                "status": pay_status, "amount_minor": b.price_minor, "captured_minor": captured,
                "platform_fee_minor": int(round((captured - refunded) * fee_share)), "currency": b.currency,
                "created_at": _dt(b.requested),
                "updated_at": _dt(b.refund[0] if b.refund else (b.accepted_at or b.requested))})
            self.rows["payment_checkouts"].append({
                "payment_id": payment_id, "order_ref": f"sbx_pi_demo_{b.id:08d}", "charge_ref": None,
                "provider_status": "authorized" if pending else "captured", "list_price_minor": b.price_minor,
                "list_currency": b.currency, "fee_basis_points": int(round(fee_share * 10_000)),
                "authorized_at": _dt(b.requested), "captured_at": None if pending else _dt(b.accepted_at),
                "settled_at": _dt(b.ends) if status == BookingStatus.COMPLETED else None,
                "created_at": _dt(b.requested), "updated_at": _dt(b.accepted_at or b.requested)})
            if b.refund:
                self.rows["refunds"].append({
                    "id": len(self.rows["refunds"]) + 1, "payment_id": payment_id, "amount_minor": refunded,
                    "currency": b.currency, "reason": b.refund[2], "idempotency_key": f"refund-booking-{b.id}",
                    "provider_ref": f"sbx_re_{b.id:08d}", "status": "succeeded", "created_at": _dt(b.refund[0])})
        self.reviews.sort(key=lambda r: r["booking_id"])
        for i, review in enumerate(self.reviews):
            review["id"] = i + 1
        self.rows["reviews"] = self.reviews
        self.rows["learner_ratings"].sort(key=lambda r: r["booking_id"])
        for i, rating in enumerate(self.rows["learner_ratings"]):
            rating["id"] = i + 1

    def _chat(self) -> None:
        from api.tables.chat import topic_room_slug  # the app's own name for a topic's room: one room per topic

        rng = self.rng
        rooms = [("general", "General", None)] + [(topic_room_slug(s), n, i) for i, (s, n) in
                                                   enumerate(zip(self.topic_slugs, self.topic_names))]
        declared: dict[int, list[int]] = {}
        for row in self.rows["learner_topics"]:
            declared.setdefault(row["topic_id"] - 1, []).append(row["learner_id"])
        learner_joined = {l.user_id: l.joined for l in self.learners}
        mentor_joined = {m.user_id: m.joined for m in self.mentors if m.status == "approved"}
        messages = []
        for room_id, (slug, name, topic) in enumerate(rooms, start=1):
            self.rows["chat_rooms"].append({"id": room_id, "kind": "public", "slug": slug, "name": name,
                                            "topic_id": topic + 1 if topic is not None else None,
                                            "created_at": _dt(self.start - 500 * DAY)})
            if topic is None:
                people = [l.user_id for l in self.learners]
            else:
                people = list(declared.get(topic, [])) + [self.mentors[m].user_id for m in
                                                          self.topic_mentors[topic].tolist()]
            if not people:
                continue
            n = int(min(40, 2 + len(people) // 3 + rng.integers(0, 4)))
            times = np.sort(rng.uniform(self.start, self.now - 60, n)).astype(np.int64).tolist()
            for k, when in enumerate(times):
                sender = people[self.py.randrange(len(people))]
                joined = learner_joined.get(sender, mentor_joined.get(sender, self.start))
                if when < joined:
                    continue
                topic_name = name if topic is not None else self.topic_names[self._weighted(self.topic_pop)]
                if topic is None:
                    body = self._pick(cat.GENERAL_MESSAGES).format(topic=topic_name, city=self._pick(cat.CITIES))
                elif k == 0 or self.rng.random() < 0.35:
                    body = self._pick(cat.CHAT_OPENERS).format(topic=topic_name)
                else:
                    body = self._pick(cat.CHAT_ANSWERS)
                messages.append((when, room_id, sender, body))
        messages.sort(key=lambda m: (m[0], m[1]))
        for i, (when, room_id, sender, body) in enumerate(messages, start=1):
            self.rows["messages"].append({"id": i, "room_id": room_id, "sender_id": sender, "body": body,
                                          "created_at": _dt(when), "deleted_at": None, "reported_count": 0})
            self._event(when, "message_sent", sender, None, None, room_id=room_id, message_id=i)

    def _event_rows(self) -> None:
        from api.tables import EventType

        types = {t.value: t for t in EventType}
        self.events.sort(key=lambda e: e[0])  # stable: ties keep the order they happened in
        self.rows["events"] = [
            {"id": i, "occurred_at": _dt(when), "event_type": types[kind], "user_id": user, "mentor_id": mentor,
             "booking_id": booking, "exposure_id": None, "model_version": None, "arm": None, "payload": payload}
            for i, (when, kind, user, mentor, booking, payload) in enumerate(self.events, start=1)
        ]

    def _finish_mentor_aggregates(self) -> None:
        counts: dict[int, list[int]] = {}
        for review in self.rows["reviews"]:
            agg = counts.setdefault(review["mentor_id"], [0, 0])
            agg[0] += 1
            agg[1] += review["rating"]
        for profile in self.rows["mentor_profiles"]:
            profile["rating_count"], profile["rating_sum"] = counts.get(profile["user_id"], (0, 0))


def simulate(spec: WorldSpec, *, demo_logins: dict[str, str] | None = None, password_hash: str | None = None,
             progress: bool = False) -> World:
    """Build the whole world in memory from the spec (no database; the clock only for `until`'s default)."""
    if spec.learners < 1 or spec.mentors < 1 or spec.days < 1:
        raise ValueError("learners, mentors and days must be at least 1")
    demo_logins = demo_logins or {"learner": "learner@mentorhub.example",
                                  "mentor": "mentor@mentorhub.example", "admin": "admin@mentorhub.example"}
    return _Simulator(spec, demo_logins, password_hash or "", progress).run()


# ---------------------------------------------------------------------------------------------
# writing


def _platform_fee_percent() -> float:
    try:
        from flask import current_app

        return float(current_app.config["MENTORHUB_SETTINGS"].platform_fee_percent)
    except (RuntimeError, KeyError, AttributeError):
        return 15.0


def _bar(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    # disable=None: off when not writing to a terminal (no mangled bars in logs and piped output)
    return tqdm(total=total, desc=desc, unit="rows" if desc == "writing" else "visits",
                disable=None if enabled else True, leave=False, mininterval=0.5)


def _write(world: World, *, progress: bool, chunk: int = 5_000) -> None:
    """Bulk-insert every table in foreign-key order, in one transaction."""
    import sqlalchemy as sa

    from api.extensions import db

    metadata = db.Model.metadata
    total = sum(len(world.rows[name]) for name in TABLE_ORDER)
    bar = _bar(total, "writing", progress)
    try:
        for name in TABLE_ORDER:
            table = metadata.tables[name]
            rows = world.rows[name]
            # keys the table lacks (a column another migration has not added yet) are left out
            extra = sorted(set(rows[0]) - set(table.c.keys())) if rows else []
            for offset in range(0, len(rows), chunk):
                part = rows[offset:offset + chunk]
                if extra:
                    part = [{k: v for k, v in row.items() if k not in extra} for row in part]
                db.session.execute(sa.insert(table), part)
                bar.update(len(part))
        if db.session.get_bind().dialect.name == "postgresql":
            for name in TABLE_ORDER:
                table = metadata.tables[name]
                if "id" in table.c and world.rows[name]:
                    db.session.execute(sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))"))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        bar.close()
    _write_certificate_documents(world)


def _write_certificate_documents(world: World) -> None:
    """The sample PDF behind every seeded certification's document, under the upload folder."""
    try:
        from flask import current_app

        settings = current_app.config["MENTORHUB_SETTINGS"]
    except (RuntimeError, KeyError):
        return
    settings.upload_dir.mkdir(parents=True, exist_ok=True)
    for upload in world.rows["uploads"]:
        path = settings.upload_dir / upload["stored_name"]
        if not path.exists():
            path.write_bytes(_SAMPLE_PDF)


_SAMPLE_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Contents 4 0 R/Resources<</Font<</F1 5 0 R>>>>>>"
    b"endobj\n4 0 obj<</Length 62>>stream\nBT /F1 24 Tf 72 760 Td (MentorHub demo certificate) Tj ET\n"
    b"endstream endobj\n5 0 obj<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)
