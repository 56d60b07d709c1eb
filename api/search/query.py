"""The one query layer of mentor discovery, on SQLite (FTS5) and PostgreSQL (tsvector + GIN).

`search_mentors(filters)` returns one page of approved, active mentors with the total count;
`mentor_preview(mentor_id)` everything public about one of them. Both read the full-text index
that migration 0005_discovery keeps current with triggers (`mentor_search` on SQLite,
`mentor_profiles.search_vector` on PostgreSQL).
"""
from __future__ import annotations

import re
import threading
import time as _time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from flask import current_app

from models import clock
from api.extensions import db
from api.search import availability, free_slots, ranking, ranking_columns
from api.money import rates_key, sql_convert
from api.search.currency import convert_minor, factor
from api.search.filters import EXPERIENCE_LEVELS, SearchFilters
from api.settings import current_settings
from api.tables import (
    Certification,
    MentorProfile,
    MentorStatus,
    Review,
    Topic,
    User,
    mentor_topics,
)

UTC = timezone.utc
# Words that say "I want a mentor" rather than what about; dropped from the text query.
FILLER_WORDS = frozenset(
    "a an and the for with in of to on at by my me i need want help learn learning teach teacher teachers "
    "tutor tutors tutoring mentor mentors mentoring coach coaching lesson lessons class classes course "
    "session sessions online someone who how".split()
)
MAX_QUERY_TOKENS = 8
PERSONAL_CANDIDATES = 500  # relevance re-ranking with personal scores looks at this many best matches

@dataclass
class MentorCard:
    """One mentor in a result list."""

    id: int
    name: str
    headline: str
    topics: list[dict]
    price_minor: int
    currency: str
    display_price_minor: int
    display_currency: str
    rating_average: float | None
    rating_count: int
    rating_score: float  # the Bayesian average used for ranking
    years_experience: int
    experience_level: str
    languages: list[str]
    sessions_recent: int
    session_minutes: int
    picture_path: str | None

    def as_dict(self) -> dict:
        """The card as JSON, made once (a card is never changed; callers copy it before adding keys)."""
        made = self.__dict__.get("_as_dict")
        if made is None:
            made = self.__dict__["_as_dict"] = self._make_dict()
        return made

    def _make_dict(self) -> dict:
        return {
            "id": self.id, "name": self.name, "headline": self.headline, "topics": self.topics,
            "price": {"amount_minor": self.price_minor, "currency": self.currency},
            "display_price": {"amount_minor": self.display_price_minor, "currency": self.display_currency},
            "rating": {"average": None if self.rating_average is None else round(self.rating_average, 2),
                       "count": self.rating_count, "score": round(self.rating_score, 4)},
            "years_experience": self.years_experience, "experience_level": self.experience_level,
            "languages": self.languages, "completed_sessions_recent": self.sessions_recent,
            "session_minutes": self.session_minutes,
        }


@dataclass
class SearchResult:
    filters: SearchFilters
    mentors: list[MentorCard]
    total: int  # exact when total_exact, else a lower bound (COUNT_CAP: "200+")
    suggestions: list[dict] = field(default_factory=list)  # when empty: [{"param", "label", "total"}]
    total_exact: bool = True

    @property
    def total_label(self) -> str:
        return f"{self.total:,}" if self.total_exact else f"{self.total:,}+"

    @property
    def pages(self) -> int:
        pages = max(1, -(-self.total // self.filters.per_page))
        return pages if self.total_exact else max(pages, self.filters.page + 1)  # more exist beyond the count


# ---------------------------------------------------------------- helpers


def dialect() -> str:
    return db.session.get_bind().dialect.name


TOPIC_CACHE_SECONDS = 60


def _topic_table(reload: bool = False) -> tuple[dict[str, int], dict[int, tuple[str, str]]]:
    """({slug: id}, {id: (slug, name)}) of all topics, cached per app for a minute (a few dozen rows)."""
    cache = current_app.extensions.setdefault("search_cache", {})
    hit = cache.get("topics")
    if hit and not reload and hit[0] > _time.monotonic():
        return hit[1]
    rows = db.session.execute(sa.select(Topic.id, Topic.slug, Topic.name)).all()
    value = ({slug: topic_id for topic_id, slug, _name in rows}, {topic_id: (slug, name) for topic_id, slug, name in rows})
    cache["topics"] = (_time.monotonic() + TOPIC_CACHE_SECONDS, value)
    return value


def topics_by_id(reload: bool = False) -> dict[int, tuple[str, str]]:
    return _topic_table(reload)[1]


def topic_ids_by_slug(slugs: list[str]) -> dict[str, int]:
    if not slugs:
        return {}
    by_slug = _topic_table()[0]
    if any(slug not in by_slug for slug in slugs):  # a topic added since the cache was filled
        by_slug = _topic_table(reload=True)[0]
    return {slug: by_slug[slug] for slug in slugs if slug in by_slug}


def all_topics() -> list[Topic]:
    return list(db.session.scalars(sa.select(Topic).order_by(Topic.category, Topic.name)))


def text_tokens(q: str) -> list[str]:
    """The words of a free-text query that carry meaning (lower case, filler words dropped)."""
    words = [w for w in re.findall(r"\w+", q.lower()) if w not in FILLER_WORDS and w != "_"]
    return list(dict.fromkeys(words))[:MAX_QUERY_TOKENS]


def bayesian_average(rating_sum: float, rating_count: int, mean: float, weight: float) -> float:
    """(weight * mean + sum) / (weight + count): few ratings stay near the mean, many speak for themselves."""
    return (weight * mean + rating_sum) / (weight + rating_count)


def experience_level(years: int) -> str:
    for name, (_label, low, high) in EXPERIENCE_LEVELS.items():
        if years >= low and (high is None or years <= high):
            return name
    return "entry"


# ---------------------------------------------------------------- the statement
#
# Every sort is an index order on mentor_profiles (migration 0009_search_perf: status first, then the
# denormalised ranking columns, user_id last), so the database walks the index and stops after the page
# and the bounded count (COUNT_CAP) instead of computing a value per approved mentor and sorting them all.
# Text relevance (text score x bayes_score) is the one order no index holds: it sorts the text matches only.

COUNT_CAP = 200  # totals are exact up to this many matches, "200+" beyond (SearchResult.total_exact)
AVAILABILITY_COUNT_CAP = 100  # ... and up to this many with a free slot in an availability window


@dataclass
class _Plan:
    statement: Any  # SELECT user_id and the sort keys (k0, k1, ...) of the matching mentors, ordered
    ids: Any  # SELECT of the matching mentor ids (unordered)
    keys: list[tuple[str, bool]]  # (column label, descending) of the sort keys, user_id last
    has_text: bool
    params: dict = field(default_factory=dict)  # the values of the statement's named bind parameters
    shape: tuple = ()  # what the statement's structure depends on (the cache key of built statements)
    cap: int = COUNT_CAP  # totals are counted up to this many matches (at least the page's end)


# Statements are built once per shape (dialect, sort, which filters are set, currency, experience levels, number
# of languages, availability window) with named bind parameters for the values, and reused: building and
# coercing the SQLAlchemy constructs cost more CPU than the database spends on most searches.
_STATEMENT_CACHE_SIZE = 512
_statement_cache: dict[tuple, Any] = {}
_cache_lock = threading.Lock()


def _cached(key: tuple, build):
    hit = _statement_cache.get(key)
    if hit is None:
        hit = build()
        with _cache_lock:
            if len(_statement_cache) >= _STATEMENT_CACHE_SIZE:
                _statement_cache.clear()
            _statement_cache[key] = hit
    return hit


def _price_expr(currency: str, engine_dialect: str):
    """The mentor's price in the learner's currency, minor units: money.convert's exact rule, in SQL."""
    return sql_convert(MentorProfile.price_minor, MentorProfile.currency, currency, engine_dialect)


def _filter_shape(filters: SearchFilters, skip: str | None, now: datetime) -> tuple[tuple, dict]:
    """(the shape of the WHERE clauses of every filter but `skip`, the values of their bind parameters)."""
    params: dict = {}
    topics = bool(filters.topic_ids) and skip != "topic"
    if topics:
        params["f_topic_ids"] = list(filters.topic_ids)
    rating = filters.min_rating is not None and skip != "min_rating"
    if rating:
        params["f_min_rating"] = filters.min_rating
    price_min = price_max = False
    if skip != "price":
        usd_per_unit = factor("USD", filters.currency)  # learner minor units per US cent
        if filters.price_min_minor is not None:
            price_min = True
            params["f_price_min_usd"] = (filters.price_min_minor - 1) / usd_per_unit
            params["f_price_min_usd_sure"] = (filters.price_min_minor + 1) / usd_per_unit
            params["f_price_min"] = filters.price_min_minor
        if filters.price_max_minor is not None:
            price_max = True
            params["f_price_max_usd"] = (filters.price_max_minor + 1) / usd_per_unit
            params["f_price_max_usd_sure"] = (filters.price_max_minor - 1) / usd_per_unit
            params["f_price_max"] = filters.price_max_minor
    experience = filters.experience if skip != "experience" else ()
    languages = 0
    if filters.languages and skip != "language":
        languages = len(filters.languages)
        for i, code in enumerate(filters.languages):
            params[f"f_lang{i}"] = f'%"{code}"%'
    window = 0  # days of the availability window
    if filters.availability and skip != "availability":
        window = (filters.availability.end_date - filters.availability.start_date).days + 1
        params.update(availability.free_slot_params(filters.availability, now))
    shape = (topics, rating, price_min, price_max,
             (filters.currency, rates_key()) if (price_min or price_max) else None,
             experience, languages, window)
    return shape, params


def _apply_filters(statement, shape: tuple, price_expr, index_terms: bool = True, hashed_topics: bool = False):
    """WHERE clauses of a filter shape (see _filter_shape), values as named bind parameters.

    `index_terms=False` (SQLite, sorts other than price): the price range and the topic list must not drive the
    plan (`+column` disqualifies a term from index use). Without histograms SQLite would start from them and
    then sort a few thousand mentors; walking the sort index instead stops after the page and the count.
    """
    topics, rating, price_min, price_max, _currency, experience, languages, window = shape
    statement = statement.where(MentorProfile.status == MentorStatus.APPROVED, User.is_active_account.is_(True))
    if topics:
        mentor_id = MentorProfile.user_id if index_terms else sa.literal_column("+mentor_profiles.user_id", sa.Integer)
        in_topics = mentor_id.in_(
            sa.select(mentor_topics.c.mentor_id).where(
                mentor_topics.c.topic_id.in_(sa.bindparam("f_topic_ids", expanding=True))))
        if hashed_topics and not (price_min or price_max or window):
            # under an OR the IN stays a subplan that PostgreSQL hashes once, instead of a join probing mentor_topics
            # for every mentor the sort index walk visits (user_id is never null); not with a price or availability
            # filter, where the join's lower estimate keeps the planner off long walks that rarely match
            in_topics = sa.or_(in_topics, MentorProfile.user_id.is_(None))
        statement = statement.where(in_topics)
    if rating:
        statement = statement.where(
            MentorProfile.rating_count > 0,
            MentorProfile.rating_sum >= sa.bindparam("f_min_rating", type_=sa.Float) * MentorProfile.rating_count)
    # the exact price test is on the price converted and rounded into the learner's currency; the looser range on
    # the indexed price_usd_minor (one minor unit of slack) lets the database skip most rows first, and only prices
    # within a minor unit of a bound need the exact test (which PostgreSQL cannot estimate: as a plain AND it
    # thinks few rows match and sorts them all instead of walking the sort index)
    usd = MentorProfile.price_usd_minor if index_terms else sa.literal_column("+mentor_profiles.price_usd_minor",
                                                                               sa.Float)
    if price_min:
        statement = statement.where(usd >= sa.bindparam("f_price_min_usd", type_=sa.Float), sa.or_(
            usd >= sa.bindparam("f_price_min_usd_sure", type_=sa.Float),
            price_expr >= sa.bindparam("f_price_min", type_=sa.Integer)))
    if price_max:
        statement = statement.where(usd <= sa.bindparam("f_price_max_usd", type_=sa.Float), sa.or_(
            usd <= sa.bindparam("f_price_max_usd_sure", type_=sa.Float),
            price_expr <= sa.bindparam("f_price_max", type_=sa.Integer)))
    if experience:
        ranges = []
        for level in experience:
            _label, low, high = EXPERIENCE_LEVELS[level]
            ranges.append(MentorProfile.years_experience.between(low, high) if high is not None
                          else MentorProfile.years_experience >= low)
        statement = statement.where(sa.or_(*ranges))
    if languages:
        as_text = sa.cast(MentorProfile.languages, sa.Text)
        statement = statement.where(sa.or_(*[as_text.like(sa.bindparam(f"f_lang{i}", type_=sa.Text))
                                             for i in range(languages)]))
    if window:
        statement = statement.where(availability.free_slot_condition(window))
    return statement


def _plan(filters: SearchFilters, skip: str | None = None, now: datetime | None = None) -> _Plan:
    engine_dialect = dialect()
    tokens = text_tokens(filters.q) if skip != "q" else []
    filter_shape, params = _filter_shape(filters, skip, now or clock.now())
    if tokens:
        if engine_dialect == "postgresql":
            params["f_tsquery"] = " & ".join(f"{t}:*" for t in tokens)
        else:
            params["fts_query"] = " AND ".join(f'"{t}"*' for t in tokens)
    shape = (engine_dialect, bool(tokens), filters.sort, filter_shape)
    plan = _cached(("plan",) + shape, lambda: _build_plan(engine_dialect, bool(tokens), filters.sort,
                                                          filter_shape, filters.currency))
    cap = AVAILABILITY_COUNT_CAP if filters.availability and skip != "availability" else COUNT_CAP
    return _Plan(statement=plan.statement, ids=plan.ids, keys=plan.keys, has_text=plan.has_text, params=params,
                 shape=shape, cap=cap)


def _build_plan(engine_dialect: str, has_tokens: bool, sort: str, filter_shape: tuple, currency: str) -> _Plan:
    price = _price_expr(currency, engine_dialect)
    statement = sa.select(MentorProfile.user_id).select_from(MentorProfile).join(User, User.id == MentorProfile.user_id)
    text_score = None
    if has_tokens:
        if engine_dialect == "postgresql":
            tsquery = sa.func.to_tsquery("english", sa.bindparam("f_tsquery", type_=sa.Text))
            vector = sa.literal_column("mentor_profiles.search_vector")
            statement = statement.where(vector.op("@@")(tsquery))
            text_score = sa.func.ts_rank(vector, tsquery)
        else:
            fts = (sa.select(sa.literal_column("rowid").label("mentor_id"),
                             sa.literal_column("bm25(mentor_search, 10.0, 5.0, 5.0, 1.0)").label("bm25"))
                   .select_from(sa.text("mentor_search"))
                   .where(sa.text("mentor_search MATCH :fts_query").bindparams(
                       sa.bindparam("fts_query", type_=sa.Text)))
                   .subquery("fts"))
            statement = statement.join(fts, fts.c.mentor_id == MentorProfile.user_id)
            text_score = -fts.c.bm25
    sqlite = engine_dialect == "sqlite"
    statement = _apply_filters(statement, filter_shape, price, hashed_topics=not sqlite,
                               index_terms=not sqlite or sort in ("price_low", "price_high"))
    ids = statement.with_only_columns(MentorProfile.user_id)

    bayes = MentorProfile.bayes_score
    if sort == "rating":
        order = [(bayes, True), (MentorProfile.rating_count, True)]
    elif sort == "price_low":
        order = [(MentorProfile.price_usd_minor, False)]  # the same order as the price in any currency
    elif sort == "price_high":
        order = [(MentorProfile.price_usd_minor, True)]
    elif sort == "experience":
        order = [(MentorProfile.years_experience, True), (bayes, True)]
    elif sort == "popularity":
        order = [(MentorProfile.completed_90d, True), (bayes, True)]
    elif text_score is not None:  # relevance: text match times quality; the serving layer's personal scores blend in later
        order = [(text_score * bayes, True)]
    else:
        order = [(bayes, True), (MentorProfile.rating_count, True)]
    keys = [(f"k{i}", descending) for i, (_expr, descending) in enumerate(order)] + [("user_id", False)]
    statement = statement.add_columns(*[expr.label(f"k{i}") for i, (expr, _d) in enumerate(order)])
    statement = statement.order_by(*[expr.desc() if descending else expr.asc() for expr, descending in order],
                                   MentorProfile.user_id.asc())
    return _Plan(statement=statement, ids=ids, keys=keys, has_text=has_tokens)


def _order(selectable, keys: list[tuple[str, bool]]) -> list:
    return [selectable.c[name].desc() if descending else selectable.c[name].asc() for name, descending in keys]


def _topic_ids_column(mentor_id_column):
    """The mentor's topic ids as one text value ("3,17"), for the few rows of a page."""
    inner = sa.select(mentor_topics.c.topic_id).where(mentor_topics.c.mentor_id == mentor_id_column)
    if dialect() == "postgresql":
        agg = sa.func.string_agg(sa.cast(mentor_topics.c.topic_id, sa.Text), ",")
    else:
        agg = sa.func.group_concat(mentor_topics.c.topic_id, ",")
    return inner.with_only_columns(agg).scalar_subquery()


def _card_columns(mentor_id_column):
    columns = [User.full_name, MentorProfile.headline, MentorProfile.price_minor, MentorProfile.currency,
               MentorProfile.rating_sum, MentorProfile.rating_count, MentorProfile.bayes_score,
               MentorProfile.years_experience, MentorProfile.languages, MentorProfile.session_minutes,
               MentorProfile.picture_path, MentorProfile.completed_90d]
    return columns + [_topic_ids_column(mentor_id_column).label("topic_ids")]


def _page_statement_shape(plan: _Plan):
    """The page statement of a plan, with the cap, page size and offset as bind parameters (built once per shape)."""
    def build():
        matches = plan.statement.limit(sa.bindparam("p_cap", type_=sa.Integer)).subquery("matches")
        page = (sa.select(*[matches.c[name] for name, _d in plan.keys], sa.func.count().over().label("total"))
                .order_by(*_order(matches, plan.keys))
                .limit(sa.bindparam("p_limit", type_=sa.Integer))
                .offset(sa.bindparam("p_offset", type_=sa.Integer)).subquery("page"))
        return (sa.select(page.c.user_id, page.c.total, *_card_columns(page.c.user_id))
                .select_from(page).join(MentorProfile, MentorProfile.user_id == page.c.user_id)
                .join(User, User.id == MentorProfile.user_id)
                .order_by(*_order(page, plan.keys)))

    return _cached(("page",) + plan.shape, build)


def _page_params(plan: _Plan, offset: int, per_page: int) -> dict:
    cap = max(plan.cap, offset + per_page)
    return {**plan.params, "p_cap": cap + 1, "p_limit": per_page, "p_offset": offset}


def _page_statement(plan: _Plan, offset: int, per_page: int):
    """One statement: the page's cards and the bounded total of the matches (a window count over at most
    max(plan.cap, offset + per_page) + 1 rows, which the index order lets the database stop at); values bound."""
    return _page_statement_shape(plan).params(_page_params(plan, offset, per_page))


def search_statement(filters: SearchFilters, now: datetime | None = None):
    """The page's one SELECT (cards and the bounded total); what the HTTP search runs, and the benchmark's floor."""
    plan = _plan(filters, now=now)
    return _page_statement(plan, (filters.page - 1) * filters.per_page, filters.per_page)


def _execute(statement, params: dict):
    """Core execution on the session's connection (no ORM result processing); flushes pending changes first,
    as Session.execute's autoflush would."""
    return _connection().execute(statement, params)


def _connection():
    session = db.session()
    if session.autoflush and (session.new or session.dirty or session.deleted):
        session.flush()
    return session.connection()


def _bounded_count(plan: _Plan, cap: int) -> int:
    statement = _cached(("count",) + plan.shape, lambda: sa.select(sa.func.count()).select_from(
        plan.ids.limit(sa.bindparam("p_cap", type_=sa.Integer)).subquery()))
    return _execute(statement, {**plan.params, "p_cap": cap + 1}).scalar() or 0


# ---------------------------------------------------------------- search


def search_mentors(filters: SearchFilters, learner_id: int | None = None, now: datetime | None = None,
                   suggest: bool = True) -> SearchResult:
    """One page of mentors matching `filters`, in a stable order, with the total count (exact up to COUNT_CAP)."""
    now = now or clock.now()
    ranking_columns.ensure_fresh()
    free_slots.ensure_fresh()
    offset = (filters.page - 1) * filters.per_page
    cards, total, cap = _matching_page(filters, learner_id, now, offset)
    suggestions = relax_suggestions(filters, now) if suggest and total == 0 and filters.active_filters() else []
    return SearchResult(filters=filters, mentors=cards, total=min(total, cap), suggestions=suggestions,
                        total_exact=total <= cap)


def _matching_page(filters: SearchFilters, learner_id: int | None, now: datetime, offset: int,
                   skip: str | None = None, cards: bool = True) -> tuple[list[MentorCard], int, int]:
    """(cards of the page, matches counted up to cap + 1, cap)."""
    settings = current_settings()
    plan = _plan(filters, skip=skip, now=now)
    cap = max(plan.cap, offset + filters.per_page)
    personal = (filters.sort == "relevance" and learner_id is not None and settings.search_personal_blend_weight > 0
                and ranking._scorer is not None)
    if personal:
        wanted = max(cap + 1, PERSONAL_CANDIDATES + 1)
        ordered = list(_execute(plan.statement.limit(wanted).with_only_columns(MentorProfile.user_id),
                                plan.params).scalars())
        ordered = _blend_personal(ordered, learner_id, settings.search_personal_blend_weight)
        page_ids = ordered[offset:offset + filters.per_page]
        return (load_cards(page_ids, filters.currency, now) if cards else []), len(ordered), cap
    if not cards:
        return [], _bounded_count(plan, cap), cap
    rows = _execute(_page_statement_shape(plan), _page_params(plan, offset, filters.per_page)).all()
    if rows:
        return [_card(row, filters.currency) for row in rows], rows[0].total, cap
    if offset == 0:
        return [], 0, cap
    return [], _bounded_count(plan, cap), cap


def _blend_personal(ordered: list[int], learner_id: int, weight: float) -> list[int]:
    """Re-rank the best PERSONAL_CANDIDATES by position score + weight * personal score; the rest keep their order."""
    head, tail = ordered[:PERSONAL_CANDIDATES], ordered[PERSONAL_CANDIDATES:]
    scores = ranking.personal_scores(learner_id, head) or {}
    if not scores:
        return ordered
    n = len(head)
    position = {m: i for i, m in enumerate(head)}
    keyed = sorted(head, key=lambda m: (-((n - position[m]) / n + weight * scores.get(m, 0.0)), m))
    return keyed + tail


def count_matching(filters: SearchFilters, now: datetime, skip: str | None = None) -> int:
    """Matches of `filters` without `skip`, counted up to COUNT_CAP + 1."""
    _cards, total, cap = _matching_page(filters, None, now, 0, skip=skip, cards=False)
    return min(total, cap)


RELAX_LABELS = {
    "availability": "Remove the availability filter",
    "min_rating": "Remove the minimum rating",
    "price": "Remove the price range",
    "experience": "Remove the experience filter",
    "language": "Remove the language filter",
    "topic": "Search all topics",
    "q": "Clear the search words",
}
RELAX_PARAMS = {
    "availability": ("available_from", "available_to", "time_from", "time_to"),
    "min_rating": ("min_rating",),
    "price": ("price_min", "price_max"),
    "experience": ("experience",),
    "language": ("language",),
    "topic": ("topic",),
    "q": ("q",),
}


def relax_suggestions(filters: SearchFilters, now: datetime) -> list[dict]:
    """For an empty result: each filter whose removal alone would find mentors, with how many."""
    suggestions = []
    for name in filters.active_filters():
        total = count_matching(filters, now, skip=name)
        if total:
            suggestions.append({"filter": name, "params": list(RELAX_PARAMS[name]), "label": RELAX_LABELS[name],
                                "total": total, "total_exact": total <= COUNT_CAP})
    return suggestions


def _card(row, currency: str) -> MentorCard:
    topic_map = topics_by_id()
    topic_ids = [int(t) for t in (row.topic_ids or "").split(",") if t]
    if any(t not in topic_map for t in topic_ids):
        topic_map = topics_by_id(reload=True)
    topics = sorted(({"slug": topic_map[t][0], "name": topic_map[t][1]} for t in topic_ids if t in topic_map),
                    key=lambda topic: topic["name"])
    return MentorCard(
        id=row.user_id, name=row.full_name, headline=row.headline or "", topics=topics,
        price_minor=row.price_minor, currency=row.currency,
        display_price_minor=convert_minor(row.price_minor, row.currency, currency), display_currency=currency,
        rating_average=(row.rating_sum / row.rating_count) if row.rating_count else None,
        rating_count=row.rating_count, rating_score=row.bayes_score,
        years_experience=row.years_experience, experience_level=experience_level(row.years_experience),
        languages=list(row.languages or []), sessions_recent=row.completed_90d,
        session_minutes=row.session_minutes, picture_path=row.picture_path,
    )


def load_cards(mentor_ids: list[int], currency: str, now: datetime | None = None) -> list[MentorCard]:
    """Result cards for these mentors, in the given order (one query)."""
    if not mentor_ids:
        return []
    statement = _cached(("cards", dialect()), lambda: sa.select(MentorProfile.user_id, *_card_columns(MentorProfile.user_id))
                        .join(User, User.id == MentorProfile.user_id)
                        .where(MentorProfile.user_id.in_(sa.bindparam("p_ids", expanding=True))))
    rows = {row.user_id: row for row in _execute(statement, {"p_ids": list(mentor_ids)})}
    return [_card(rows[mentor_id], currency) for mentor_id in mentor_ids if mentor_id in rows]


# ---------------------------------------------------------------- profile preview


@dataclass
class ReviewPage:
    reviews: list[dict]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def public_mentor(mentor_id: int) -> tuple[MentorProfile, User] | None:
    """The mentor if approved and active, else None (everyone else is invisible)."""
    row = db.session.execute(
        sa.select(MentorProfile, User).join(User, User.id == MentorProfile.user_id)
        .where(MentorProfile.user_id == mentor_id, MentorProfile.status == MentorStatus.APPROVED,
               User.is_active_account.is_(True))).first()
    return (row[0], row[1]) if row else None


def rating_distribution(mentor_id: int) -> dict[int, int]:
    """{5: n5, 4: n4, ..., 1: n1} over the visible reviews."""
    counts = dict.fromkeys(range(5, 0, -1), 0)
    for rating, count in db.session.execute(
            sa.select(Review.rating, sa.func.count()).where(Review.mentor_id == mentor_id, Review.hidden.is_(False))
            .group_by(Review.rating)):
        counts[int(rating)] = count
    return counts


def review_page(mentor_id: int, page: int, per_page: int) -> ReviewPage:
    """Visible reviews of a mentor, newest first, with the reviewer's first name and initial."""
    base = sa.select(Review, User.full_name).join(User, User.id == Review.learner_id).where(
        Review.mentor_id == mentor_id, Review.hidden.is_(False))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(
        sa.select(Review.id).where(Review.mentor_id == mentor_id, Review.hidden.is_(False)).subquery()))
    rows = db.session.execute(base.order_by(Review.created_at.desc(), Review.id.desc())
                              .limit(per_page).offset((page - 1) * per_page)).all()
    reviews = [{
        "id": review.id, "rating": review.rating, "text": review.text or "", "author": short_name(name),
        "created_at": review.created_at, "mentor_reply": review.mentor_reply, "replied_at": review.replied_at,
        "edited": review.updated_at is not None and review.created_at is not None
        and (review.updated_at - review.created_at) > timedelta(seconds=5),
    } for review, name in rows]
    return ReviewPage(reviews=reviews, total=total or 0, page=page, per_page=per_page)


def short_name(full_name: str) -> str:
    """'Ana Maria Lopez' -> 'Ana L.' (reviews show no full names)."""
    parts = (full_name or "").split()
    if not parts:
        return "A learner"
    return parts[0] if len(parts) == 1 else f"{parts[0]} {parts[-1][0]}."


@dataclass
class MentorPreview:
    card: MentorCard
    bio: str
    past_roles: list[str]
    certifications: list[dict]
    timezone: str
    video_url: str | None
    video_path: str | None  # an uploaded intro video (its stored file name)
    next_slots: list[datetime]
    distribution: dict[int, int]
    reviews: ReviewPage


def mentor_preview(mentor_id: int, currency: str, review_page_number: int = 1,
                   now: datetime | None = None) -> MentorPreview | None:
    settings = current_settings()
    now = now or clock.now()
    found = public_mentor(mentor_id)
    if found is None:
        return None
    mentor, _user = found
    cards = load_cards([mentor_id], currency, now)
    certifications = [{"name": c.name, "issuer": c.issuer, "year": c.year} for c in db.session.scalars(
        sa.select(Certification).where(Certification.mentor_id == mentor_id).order_by(Certification.year.desc()))]
    return MentorPreview(
        card=cards[0], bio=mentor.bio or "", past_roles=[str(r) for r in (mentor.past_roles or [])],
        certifications=certifications, timezone=mentor.timezone, video_url=mentor.video_url,
        video_path=mentor.video_path,
        next_slots=availability.next_free_slots(mentor, settings.search_next_slots, settings.search_next_slots_days, now),
        distribution=rating_distribution(mentor_id),
        reviews=review_page(mentor_id, review_page_number, settings.search_reviews_page_size),
    )


def rebuild_search_index() -> None:
    """Rebuild the full-text index from the tables (after a bulk load or a repair): the triggers redo each row."""
    db.session.execute(sa.text("UPDATE mentor_profiles SET headline = headline"))
    db.session.commit()
