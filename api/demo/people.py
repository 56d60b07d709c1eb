"""The people of the demo world: the admin, mentors (profiles, certifications, availability) and learners."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np

from api.demo import catalogue as cat
from api.demo.spec import (BOOKING_HORIZON_DAYS, CERTIFICATE_NAME, DAY, EMAIL_VERIFY_DELAY, HOUR,
                           LANGUAGE_TOPIC_CODES, _dt, _hm, _local_date, _zone)
from api.demo.writing import _SAMPLE_PDF
from api.tables import MentorStatus, Role


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



class _PeopleMixin:
    """The part of `_Simulator` that makes people (their rows and their hidden traits)."""

    def _topics(self) -> None:
        for i, (slug, name, category, _pop, _kw) in enumerate(cat.TOPICS):
            self.rows["topics"].append({"id": i + 1, "slug": slug, "name": name, "category": category})

    def _user(self, uid: int, email: str, full_name: str, zone: str, currency: str, created: int,
              verified: bool, roles: list[str], phone: str | None) -> None:
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
        self.mentors: list[_Mentor] = []
        for i in range(self.spec.mentors):
            self._mentor(i)
        self._mentor_arrays()

    def _mentor(self, i: int) -> None:
        """One mentor: the hidden traits, the user, the profile and its certifications and availability."""
        uid = 2 + i
        demo = i == 0
        zone = "Europe/Berlin" if demo else self.zone_names[self._weighted(self.zone_weights)]
        first, last = ("Lena", "Hartmann") if demo else self._person(zone)
        currency = self.zone_info[zone][2]
        category, topics = self._mentor_topics(demo)
        years, quality, accept_rate = self._mentor_traits(demo)
        units = self._mentor_price_units(category, years, currency)
        price_minor = units * 100
        minutes = 60 if demo else int(self._pick((30, 45, 60, 60, 60, 60, 90)))
        status = self._mentor_status(demo)
        joined, created, reviewed = self._mentor_dates(status, demo)
        rules = self._availability(demo)
        mentor = _Mentor(i, uid, first, zone, category, topics, years, quality, accept_rate, price_minor,
                         currency, units * cat.USD_PER_UNIT[currency], minutes, status, joined, rules, {})
        self._exceptions(mentor)
        self.mentors.append(mentor)

        email = self.demo_logins["mentor"] if demo else self._email(first, last)
        self._user(uid, email, f"{first} {last}", zone, currency, created, True, ["mentor"], self._phone(zone))
        self._mentor_profile(mentor, created, reviewed)
        for t in sorted(topics):
            self.rows["mentor_topics"].append({"mentor_id": uid, "topic_id": t + 1})
        self._certifications(mentor, created)
        self._availability_rows(mentor)

    def _mentor_topics(self, demo: bool) -> tuple[str, list[int]]:
        """The mentor's category and topic indices (the first in the category)."""
        if demo:
            return "programming", [self.topic_slugs.index("python"), self.topic_slugs.index("data-engineering")]
        ci = self._weighted(self.cat_pop)
        return self.categories[ci], self._topics_for(ci, 1 + self._weighted(np.array([0.35, 0.45, 0.20])), 0.8)

    def _mentor_traits(self, demo: bool) -> tuple[int, float, float]:
        """Years of experience, hidden quality (0..1) and the share of requests accepted."""
        if demo:
            return 9, 0.9, 0.97
        rng = self.rng
        years = int(np.clip(round(rng.gamma(2.2, 4.0)), 1, 35))
        quality = float(np.clip(rng.beta(4, 2) + 0.004 * min(years, 20) - 0.04, 0.05, 0.99))
        accept_rate = float(0.80 + 0.18 * self.rng.random())
        return years, quality, accept_rate

    def _mentor_price_units(self, category: str, years: int, currency: str) -> int:
        """The session price in whole units of the mentor's currency, rounded to a step (5, or 100 rupees)."""
        price_usd = cat.CATEGORY_BASE_PRICE_USD[category] * (0.65 + 0.07 * min(years, 20)) \
            * float(np.exp(self.rng.normal(0, 0.25)))
        units = price_usd / cat.USD_PER_UNIT[currency]
        step = 100 if currency == "INR" else 5
        return max(step, int(round(units / step)) * step)

    def _mentor_status(self, demo: bool) -> str:
        if demo:
            return "approved"
        r = self.rng.random()
        return "approved" if r < 0.86 else "pending" if r < 0.95 else "rejected"

    def _mentor_dates(self, status: str, demo: bool) -> tuple[int, int, int | None]:
        """(joined, created, reviewed) epochs: joined is when an approved mentor became searchable."""
        rng, spec = self.rng, self.spec
        if status == "approved":
            joined = self.start - int(rng.uniform(30, 700) * DAY)
            if not demo and rng.random() < 0.15:  # newcomers during the window
                joined = self.start + int(rng.uniform(0, 0.8) * (self.now - self.start))
            return joined, joined - int(rng.uniform(1, 5) * DAY), joined
        if status == "pending":
            created = self.now - int(rng.uniform(0.5, min(20, spec.days)) * DAY)
            return created, created, None
        created = self.now - int(rng.uniform(2, max(3, spec.days)) * DAY)
        reviewed = min(created + int(rng.uniform(1, 4) * DAY), self.now - HOUR)
        return created, created, reviewed

    def _mentor_profile(self, mentor: _Mentor, created: int, reviewed: int | None) -> None:
        category, years, topics = mentor.category, mentor.years, mentor.topics
        role = self._pick(cat.ROLES[category])
        companies = self.py.sample(cat.COMPANIES, 3)
        topic_text = " and ".join(self.topic_names[t] for t in topics[:2])
        fmt = dict(role=role, role_lower=role.lower(), years=years, topics=topic_text, company=companies[0],
                   company2=companies[1], first=mentor.first)
        past_roles = self._past_roles(category, years, role, companies)
        languages = self._languages(mentor.zone, topics)
        status = mentor.status
        self.rows["mentor_profiles"].append({
            "user_id": mentor.user_id, "headline": self._pick(cat.HEADLINE_TEMPLATES).format(**fmt)[:200],
            "bio": self._pick(cat.BIO_TEMPLATES).format(**fmt), "years_experience": years,
            "past_roles": past_roles, "languages": languages, "price_minor": mentor.price_minor,
            "currency": mentor.currency, "session_minutes": mentor.minutes, "timezone": mentor.zone,
            "status": MentorStatus(status),
            "status_reason": self._pick(cat.MENTOR_REJECT_REASONS) if status == "rejected" else None,
            "reviewed_at": _dt(reviewed) if reviewed else None, "picture_path": None, "video_path": None,
            "video_url": None, "accepts_questions": bool(self.rng.random() < 0.4), "rating_count": 0,
            "rating_sum": 0, "created_at": _dt(created), "updated_at": _dt(reviewed or created),
        })

    def _past_roles(self, category: str, years: int, role: str, companies: list[str]) -> list[str]:
        past_roles = [f"{role} at {companies[0]}"]
        if years >= 4:
            past_roles.append(f"{self._pick(cat.ROLES[category])} at {companies[1]}")
        if years >= 10:
            past_roles.append(f"{self._pick(cat.ROLES[category])} at {companies[2]}")
        return past_roles

    def _languages(self, zone: str, topics: list[int]) -> list[str]:
        """English, the zone's native language, and any language the mentor teaches."""
        languages = ["en"]
        native = self.zone_info[zone][5]
        if native:
            languages.append(native)
        for t in topics:
            code = LANGUAGE_TOPIC_CODES.get(self.topic_slugs[t])
            if code and code not in languages:
                languages.append(code)
        return languages

    def _certifications(self, mentor: _Mentor, created: int) -> None:
        """1-3 certifications; all but a pending mentor's come with a document (an upload)."""
        uid, years = mentor.user_id, mentor.years
        n_certs = 1 + self._weighted(np.array([0.5, 0.35, 0.15]))
        for name, issuer in self.py.sample(cat.CERTIFICATIONS[mentor.category], min(n_certs, 3)):
            cert_id = len(self.rows["certifications"]) + 1
            document = None if mentor.status == "pending" else CERTIFICATE_NAME.format(id=cert_id)
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

    def _availability_rows(self, mentor: _Mentor) -> None:
        """The weekly rules and the exceptions (days off, reduced hours) as rows."""
        uid, zone, rules = mentor.user_id, mentor.zone, mentor.rules
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

    def _mentor_arrays(self) -> None:
        """Per-mentor arrays the behaviour simulation scores with, and the approved mentors of each topic."""
        T = len(self.topic_slugs)
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
        T = len(self.topic_slugs)
        L = self.spec.learners
        self.learners: list[_Learner] = []
        self.tastes = np.zeros((L, T))
        self.price_sens = np.zeros(L)
        self.exp_pref = np.zeros(L)
        self.rating_pref = np.zeros(L)
        for j in range(L):
            self._learner(j)
        self.learner_mentor_match = self.tastes @ self.mentor_topic_matrix.T  # L x M

    def _learner(self, j: int) -> None:
        """One learner: hidden tastes and traits, the user, the profile and the declared topics."""
        rng = self.rng
        uid = 2 + self.spec.mentors + j
        demo = j == 0
        zone = "Europe/London" if demo else self.zone_names[self._weighted(self.zone_weights)]
        first, last = ("Sam", "Rivera") if demo else self._person(zone)
        currency = self.zone_info[zone][2]
        taste = self._taste(demo)
        self.tastes[j] = taste
        self.price_sens[j] = float(np.exp(rng.normal(math.log(0.8), 0.45))) * (1.5 if currency == "INR" else 1.0)
        self.exp_pref[j] = abs(rng.normal(0.5, 0.35))
        self.rating_pref[j] = abs(rng.normal(0.8, 0.4))
        joined, rate, propensity = self._learner_activity(demo)
        budget = float(np.exp(rng.normal(math.log(60), 0.4)) / self.price_sens[j] * 0.8)
        self.learners.append(_Learner(j, uid, first, zone, currency, joined, rate, propensity, budget))

        verified = demo or rng.random() > 0.03
        email = self.demo_logins["learner"] if demo else self._email(first, last)
        self._user(uid, email, f"{first} {last}", zone, currency, joined, verified, ["learner"],
                   self._phone(zone))
        declared = self._declared_topics(taste, demo)
        template = self._pick(cat.INTEREST_TEMPLATES[self.topic_cats[declared[0]]])
        interests = template.format(topics=" and ".join(self.topic_names[t] for t in declared[:2]))
        slots = self._preferred_slots()
        self.rows["learner_profiles"].append({
            "user_id": uid, "interests": interests, "preferred_slots": slots, "picture_path": None,
            "created_at": _dt(joined), "updated_at": _dt(joined)})
        for t in sorted(declared):
            self.rows["learner_topics"].append({"learner_id": uid, "topic_id": t + 1})

    def _taste(self, demo: bool) -> np.ndarray:
        """Hidden tastes: a Dirichlet concentrated on 1-3 topics, mostly of one category."""
        T = len(self.topic_slugs)
        python = self.topic_slugs.index("python")
        if demo:
            focus = [python, self.topic_slugs.index("sql"), self.topic_slugs.index("machine-learning")]
        else:
            focus = self._topics_for(self._weighted(self.cat_pop), 1 + self._weighted(np.array([.35, .4, .25])),
                                     0.75)
        alpha = np.full(T, 0.02)
        for rank, t in enumerate(focus):
            alpha[t] += (4.0, 1.8, 1.0)[rank]
        taste = self.rng.dirichlet(alpha)
        if demo:
            taste = 0.5 * taste + 0.5 * (np.arange(T) == python)
        return taste

    def _learner_activity(self, demo: bool) -> tuple[int, float, float]:
        """(joined epoch, sessions a day, booking propensity)."""
        if demo:
            return self.start - 200 * DAY, 0.6, 3.0
        rng = self.rng
        joined = self.start - int(rng.uniform(1, 400) * DAY) if rng.random() < 0.65 \
            else self.start + int(rng.uniform(0, 0.9) * (self.now - self.start))
        rate = float(np.exp(rng.normal(math.log(0.065), 0.8)))
        propensity = float(np.exp(rng.normal(0, 0.4)))
        return joined, rate, propensity

    def _declared_topics(self, taste: np.ndarray, demo: bool) -> list[int]:
        """The topics the learner declares: mostly their top tastes, sometimes a popular one besides."""
        rng = self.rng
        order = [int(t) for t in np.argsort(-taste, kind="stable")]
        declared = [t for t, p in zip(order[:3], (0.85, 0.6, 0.4)) if taste[t] > 0.05 and rng.random() < p]
        if rng.random() < 0.25:
            noise = self._weighted(self.topic_pop)
            if noise not in declared:
                declared.append(noise)
        if not declared:
            declared = [order[0]]
        if demo:
            declared = [self.topic_slugs.index("python"), self.topic_slugs.index("sql")]
        return declared

    def _preferred_slots(self) -> list[dict]:
        """Weekday evenings (often) and a weekend morning (always when there is nothing else)."""
        slots = []
        if self.rng.random() < 0.7:
            start_hour = self._pick((17, 18, 19, 20))
            for d in sorted(self.py.sample(range(5), self.py.randint(1, 3))):
                slots.append({"weekday": d, "start": f"{start_hour:02d}:00", "end": f"{start_hour + 3:02d}:00"})
        if self.rng.random() < 0.5 or not slots:
            slots.append({"weekday": self._pick((5, 6)), "start": "09:00", "end": "13:00"})
        return slots
