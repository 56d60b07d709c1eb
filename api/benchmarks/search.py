"""`mentorhub bench search`: seed a large world, then time a fixed mix of searches over HTTP and in SQL.

    mentorhub bench search --mentors 10000 --reviews 200000 --db sqlite|postgres [--json PATH]

The data is bulk-inserted into a fresh database (SQLite file in a temporary folder, or the
PostgreSQL database `mentorhub_bench` next to TEST_POSTGRES_URL). The app is served by gunicorn
(SERVER_WORKERS sync worker processes, as deployed) in a subprocess, so the load generator does not
share an interpreter lock with it, and 8 client threads send the mix to GET /api/v1/mentors. The same searches are then run directly in
SQL (the page statement of `api.search.query.search_statement`, availability filter included, through
SQLAlchemy Core on a bare connection, 8 threads): the floor. Figures: p50/p95/p99 latency, requests per second, SQL p99, and
the ratio of HTTP p99 to SQL p99.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, time as dtime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

import click
import sqlalchemy as sa
from flask_migrate import upgrade
from werkzeug.datastructures import MultiDict

from api import create_app
from api.benchmarks.common import free_port, percentile, tree_cpu_seconds
from api.benchmarks.harness import harness_settings
from api.demo import catalogue as cat
from api.extensions import db
from api.search import free_slots, ranking_columns
from api.search.filters import parse_filters
from api.search.query import rebuild_search_index, search_statement, topic_ids_by_slug
from api.settings import Settings
from api.tables import AvailabilityRule, Booking, MentorProfile, Review, Topic, User, mentor_topics

UTC = timezone.utc
BENCH_DB = "mentorhub_bench_search"
LEARNER_ZONES = ("Europe/London", "America/New_York", "Asia/Kolkata", "Europe/Berlin", "America/Los_Angeles", "UTC")
CURRENCIES = ("USD", "EUR", "GBP", "INR")
LANGUAGE_OF_ZONE = {"America/Sao_Paulo": "pt", "America/Mexico_City": "es", "Europe/Berlin": "de", "Europe/Paris": "fr",
                    "Europe/Madrid": "es", "Asia/Kolkata": "hi", "Asia/Singapore": "zh", "Asia/Tokyo": "ja",
                    "Asia/Seoul": "ko"}
WINDOWS = ((dtime(9), dtime(12)), (dtime(13), dtime(17)), (dtime(18), dtime(21)), (dtime(7), dtime(9)))


# ---------------------------------------------------------------- database


def _postgres_url(base_url: str, name: str) -> str:
    return base_url.rsplit("/", 1)[0] + "/" + name


def _fresh_database(kind: str, var_dir: Path) -> str:
    """An empty database; returns its DATABASE_URL ('' = the SQLite file under var_dir)."""
    if kind == "sqlite":
        return ""
    admin_url = harness_settings().test_postgres_url.replace("postgresql://", "postgresql+psycopg2://", 1)
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{BENCH_DB}"'))
    engine.dispose()
    return _postgres_url(harness_settings().test_postgres_url, BENCH_DB)


def _settings_for(var_dir: Path, database_url: str):
    return Settings(_env_file=None, profile="production", var_dir=var_dir, database_url=database_url,
                    log_level="WARNING", secret_key="bench-secret-key-not-for-production", socketio_async_mode="threading",
                    public_base_url="http://127.0.0.1")


class _Draws:
    """The seeded random draws of the bench world, in a fixed order: the same seed gives the same world."""

    def __init__(self, random_seed: int, now: datetime):
        self.rng = random.Random(random_seed)
        self.now = now
        self.topic_weights = [t[3] for t in cat.TOPICS]
        self.zones = [z[0] for z in cat.ZONES]
        self.zone_weights = [z[1] for z in cat.ZONES]
        self.zone_currency = {z[0]: z[2] for z in cat.ZONES}
        self.origins = {z[0]: z[4] for z in cat.ZONES}

    def zone(self) -> str:
        return self.rng.choices(self.zones, self.zone_weights)[0]

    def name(self, zone: str) -> str:
        rng = self.rng
        origin = rng.choice(self.origins[zone])
        first = rng.choice(cat.FIRST_NAMES.get(origin, cat.FIRST_NAMES["anglo"]))
        last = rng.choice(cat.LAST_NAMES.get(origin, cat.LAST_NAMES["anglo"]))
        return f"{first} {last}"

    def mentor(self, mentor_id: int) -> tuple[dict, dict, list[dict], list[dict], float]:
        """A mentor's user row, profile row, topic links, availability rules and hidden quality."""
        rng, now = self.rng, self.now
        zone = self.zone()
        name = self.name(zone)
        user = dict(id=mentor_id, email=f"mentor{mentor_id}@example.com", full_name=name, timezone=zone,
                    currency=self.zone_currency[zone], is_active_account=rng.random() > 0.01,
                    session_version=1, created_at=now)
        topic_ids = sorted({rng.choices(range(1, len(cat.TOPICS) + 1), self.topic_weights)[0]
                            for _ in range(rng.choice((1, 2, 2, 3)))})
        topic_rows = [cat.TOPICS[i - 1] for i in topic_ids]
        category = topic_rows[0][2]
        role = rng.choice(cat.ROLES[category])
        company, company2 = rng.sample(cat.COMPANIES, 2)
        years = min(30, int(rng.expovariate(1 / 7)) + 1)
        topics_text = " and ".join(t[1] for t in topic_rows)
        fill = dict(role=role, role_lower=role.lower(), topics=topics_text, years=years, company=company,
                    company2=company2, first=name.split()[0])
        currency = self.zone_currency[zone]
        usd = cat.CATEGORY_BASE_PRICE_USD[category] * (0.6 + years / 12) * rng.uniform(0.7, 1.4)
        price_minor = int(round(usd / cat.USD_PER_UNIT[currency])) * 100
        languages = ["en"] + ([LANGUAGE_OF_ZONE[zone]] if zone in LANGUAGE_OF_ZONE else [])
        if rng.random() < 0.2:
            languages.append(rng.choice(("es", "fr", "de", "pt")))
        status = rng.choices(("approved", "pending", "rejected", "suspended"), (90, 6, 3, 1))[0]
        quality = rng.gauss(4.3, 0.45)
        profile = dict(
            user_id=mentor_id, headline=rng.choice(cat.HEADLINE_TEMPLATES).format(**fill)[:200],
            bio=rng.choice(cat.BIO_TEMPLATES).format(**fill), years_experience=years,
            past_roles=[f"{role} at {company}", f"{rng.choice(cat.ROLES[category])} at {company2}"],
            languages=sorted(set(languages)), price_minor=max(500, price_minor), currency=currency,
            session_minutes=rng.choice((30, 45, 60, 60, 60, 90)), timezone=zone, status=status,
            accepts_questions=False, rating_count=0, rating_sum=0, created_at=now, updated_at=now)
        links = [dict(mentor_id=mentor_id, topic_id=t) for t in topic_ids]
        days = sorted(rng.sample(range(7), rng.choice((2, 3, 4, 5))))
        rules = [dict(mentor_id=mentor_id, weekday=weekday, start_time=start, end_time=end, timezone=zone)
                 for start, end in rng.sample(WINDOWS, rng.choice((1, 1, 2))) for weekday in days]
        return user, profile, links, rules, quality

    def learner(self, learner_id: int) -> dict:
        zone = self.zone()
        return dict(id=learner_id, email=f"learner{learner_id}@example.com", full_name=self.name(zone),
                    timezone=zone, currency=self.zone_currency[zone], is_active_account=True,
                    session_version=1, created_at=self.now)

    def completed(self, approved: list[int], learner_ids: list[int], quality: dict[int, float],
                  reviews: int) -> tuple[list[dict], list[dict]]:
        """Completed sessions over two years, one review each, spread over the mentors by a Pareto popularity."""
        rng, now = self.rng, self.now
        popularity = [rng.paretovariate(1.2) for _ in approved]
        bookings, review_rows = [], []
        chosen = rng.choices(approved, popularity, k=reviews)
        for booking_id, mentor_id in enumerate(chosen, start=1):
            ends = now - timedelta(minutes=rng.randrange(60, 730 * 24 * 60))
            learner_id = rng.choice(learner_ids)
            bookings.append(dict(id=booking_id, learner_id=learner_id, mentor_id=mentor_id,
                                 starts_at=ends - timedelta(hours=1), ends_at=ends, status="completed", note="",
                                 price_minor=5000, currency="USD", created_at=ends, updated_at=ends))
            rating = max(1, min(5, round(rng.gauss(quality[mentor_id], 0.8))))
            text = rng.choice(cat.REVIEW_TEXTS[rating]).format(first="they", topic="the topic") \
                if rng.random() < 0.6 else ""
            review_rows.append(dict(id=booking_id, booking_id=booking_id, learner_id=learner_id, mentor_id=mentor_id,
                                    rating=rating, text=text, hidden=False, reported_count=0, created_at=ends,
                                    updated_at=ends))
        return bookings, review_rows

    def upcoming(self, approved: list[int], learner_ids: list[int], mentors: int, first_id: int) -> list[dict]:
        """Accepted sessions in the next three weeks, for half the mentors."""
        rng, now = self.rng, self.now
        rows = []
        for booking_id, mentor_id in enumerate(rng.sample(approved, min(len(approved), mentors // 2)),
                                               start=first_id):
            start = (now + timedelta(days=rng.randrange(1, 21))).replace(minute=0, second=0, microsecond=0)
            start = start.replace(hour=rng.randrange(7, 21))
            rows.append(dict(id=booking_id, learner_id=rng.choice(learner_ids), mentor_id=mentor_id,
                             starts_at=start, ends_at=start + timedelta(hours=1), status="accepted", note="",
                             price_minor=5000, currency="USD", created_at=now, updated_at=now))
        return rows


def seed(app, mentors: int, reviews: int, random_seed: int = 7, now: datetime | None = None) -> dict:
    """Bulk-insert topics, mentors with availability, learners, completed bookings and reviews."""
    draws = _Draws(random_seed, now or datetime.now(UTC))
    learners = max(100, reviews // 10)
    with app.app_context():
        engine = db.engine
        postgres = engine.dialect.name == "postgresql"
        with engine.begin() as conn:
            if postgres:  # triggers off for the bulk load; the index is rebuilt in one statement below
                conn.execute(sa.text("SET session_replication_role = replica"))
            conn.execute(sa.insert(Topic), [dict(id=i + 1, slug=t[0], name=t[1], category=t[2])
                                            for i, t in enumerate(cat.TOPICS)])
            users, profiles, links, rules = [], [], [], []
            quality = {}
            for mentor_id in range(1, mentors + 1):
                user, profile, mentor_links, mentor_rules, quality[mentor_id] = draws.mentor(mentor_id)
                users.append(user)
                profiles.append(profile)
                links.extend(mentor_links)
                rules.extend(mentor_rules)
            learner_ids = list(range(mentors + 1, mentors + learners + 1))
            users.extend(draws.learner(learner_id) for learner_id in learner_ids)
            _chunks(conn, User.__table__, users)
            _chunks(conn, MentorProfile.__table__, profiles)
            _chunks(conn, mentor_topics, links)
            _chunks(conn, AvailabilityRule.__table__, rules)

            approved = [p["user_id"] for p in profiles if p["status"] == "approved"]
            bookings, review_rows = draws.completed(approved, learner_ids, quality, reviews)
            upcoming = draws.upcoming(approved, learner_ids, mentors, reviews + 1)
            _chunks(conn, Booking.__table__, bookings + upcoming)
            _chunks(conn, Review.__table__, review_rows)
            _rating_sums(conn, review_rows)
            if postgres:
                conn.execute(sa.text("SET session_replication_role = origin"))
                conn.execute(sa.text("SELECT setval(pg_get_serial_sequence(t, 'id'), (SELECT max(id) FROM "
                                     "users)) FROM (VALUES ('users')) v(t)"))
        if postgres:
            rebuild_search_index()
        ranking_columns.refresh(force=True)  # the ranking columns of the bulk-loaded rows (PostgreSQL loaded with triggers off)
        _analyse(engine)
        return {"mentors": mentors, "approved": len(approved), "learners": learners, "reviews": reviews,
                "bookings": len(bookings) + len(upcoming), "availability_rules": len(rules)}


def _rating_sums(conn, review_rows: list[dict]) -> None:
    """Each reviewed mentor's rating count and sum, as the review service keeps them."""
    sums: dict[int, list[int]] = {}
    for review in review_rows:
        count_and_sum = sums.setdefault(review["mentor_id"], [0, 0])
        count_and_sum[0] += 1
        count_and_sum[1] += review["rating"]
    profile_table = MentorProfile.__table__
    conn.execute(sa.update(profile_table).where(profile_table.c.user_id == sa.bindparam("mid")).values(
        rating_count=sa.bindparam("rc"), rating_sum=sa.bindparam("rs")),
        [dict(mid=m, rc=c, rs=s) for m, (c, s) in sums.items()])


def _analyse(engine) -> None:
    """What autovacuum does on a live database: statistics and (PostgreSQL) the visibility map for index-only
    scans."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))


def build_free_slots(app) -> int:
    """The search's free-slot index of a bulk-loaded world (what the first search would build), analysed."""
    with app.app_context():
        rows = free_slots.build()
        db.session.commit()
        if db.engine.dialect.name == "postgresql":  # statistics and the visibility map (index-only probes)
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("VACUUM ANALYZE mentor_free_slots"))
        else:
            with db.engine.begin() as conn:
                conn.execute(sa.text("ANALYZE mentor_free_slots"))
    return rows


def _chunks(conn, table, rows: list[dict], size: int = 5000) -> None:
    for i in range(0, len(rows), size):
        conn.execute(table.insert(), rows[i:i + size])


# ---------------------------------------------------------------- the mix


def query_mix(count: int, random_seed: int = 11, today=None) -> list[dict]:
    """A fixed, realistic mix of searches: text, topic, price, rating, language, experience, availability, sorts."""
    rng = random.Random(random_seed)
    today = today or datetime.now(UTC).date()
    slugs = [t[0] for t in cat.TOPICS]
    weights = [t[3] for t in cat.TOPICS]
    keywords = [(k, t[3]) for t in cat.TOPICS for k in t[4]]
    mix = []
    for _ in range(count):
        kind = rng.choices(("text", "topic", "topic_price", "rating_price", "language", "experience", "availability",
                            "browse", "popular", "deep"), (22, 14, 12, 10, 6, 6, 14, 6, 6, 4))[0]
        params: dict = {"tz": rng.choice(LEARNER_ZONES), "currency": rng.choice(CURRENCIES)}
        topic = rng.choices(slugs, weights)[0]
        if kind == "text":
            word = rng.choices([k for k, _ in keywords], [w for _, w in keywords])[0]
            params["q"] = word + rng.choice(cat.QUERY_SUFFIXES)
        elif kind == "topic":
            params.update(topic=topic, sort=rng.choice(("rating", "relevance", "popularity")))
        elif kind == "topic_price":
            params.update(topic=topic, price_max=rng.choice((30, 50, 80)), currency="USD",
                          sort=rng.choice(("price_low", "rating")))
        elif kind == "rating_price":
            params.update(min_rating=rng.choice((4, 4.5)), price_min=20, price_max=rng.choice((60, 100)),
                          currency="USD", sort="rating")
            if rng.random() < 0.5:
                params["topic"] = topic
        elif kind == "language":
            params.update(q=rng.choice(("spanish", "english", "python", "design")), language=rng.choice(("es", "fr", "de", "hi")))
        elif kind == "experience":
            params.update(topic=topic, experience=rng.choice(("senior", "expert", "mid")), sort="experience")
        elif kind == "availability":
            start = today + timedelta(days=rng.randrange(1, 5))
            window = rng.choice(((dtime(18), "21:00"), (dtime(9), "12:00"), (dtime(13), "17:00")))
            params.update(topic=topic, available_from=start.isoformat(),
                          available_to=(start + timedelta(days=rng.choice((0, 2, 6)))).isoformat(),
                          time_from=window[0].strftime("%H:%M"), time_to=window[1],
                          sort=rng.choice(("rating", "relevance")))
        elif kind == "browse":
            params.update(sort=rng.choice(("rating", "price_low", "price_high")))
        elif kind == "popular":
            params.update(sort="popularity", topic=topic)
        else:
            params.update(topic=topic, sort="rating", page=rng.choice((2, 3)))
        mix.append(params)
    return mix


# ---------------------------------------------------------------- HTTP




SERVER_WORKERS = 4  # gunicorn sync worker processes (the machine has 2 cores; workers also wait on the database)

SERVER_CODE = """
import logging, sys
from gunicorn.app.base import BaseApplication
from api import create_app
from api.extensions import db
from api.settings import Settings
settings = Settings(_env_file=None, profile="production", var_dir=sys.argv[2], database_url=sys.argv[3],
                    log_level="WARNING", secret_key="bench-secret-key-not-for-production", socketio_async_mode="threading",
                    public_base_url="http://127.0.0.1")
app = create_app(settings=settings)
logging.getLogger("mentorhub.request").setLevel(logging.WARNING)

def post_fork(server, worker):
    with app.app_context():
        db.engine.dispose(close=False)  # no connection crosses a fork

class Server(BaseApplication):
    def load_config(self):
        for key, value in dict(bind="127.0.0.1:" + sys.argv[1], workers=int(sys.argv[4]), worker_class="sync",
                               preload_app=True, backlog=2048, loglevel="warning", accesslog=None,
                               post_fork=post_fork, timeout=120).items():
            self.cfg.set(key, value)

    def load(self):
        return app

Server().run()
"""


def _start_server(var_dir: Path, database_url: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MENTORHUB_PROFILE", "VAR_DIR")}
    process = subprocess.Popen([sys.executable, "-c", SERVER_CODE, str(port), str(var_dir), database_url,
                                str(SERVER_WORKERS)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise click.ClickException("the bench server died: " + process.stderr.read().decode()[-2000:])
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return process, base
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    process.terminate()
    raise click.ClickException("the bench server did not start")




def _run_concurrently(work: list, clients: int, call) -> tuple[list[float], float]:
    """Run call(item) for every item with `clients` threads; per-call seconds and the wall time."""
    latencies: list[float] = []
    lock = threading.Lock()
    cursor = iter(work)
    errors: list[str] = []

    def worker():
        local = []
        while True:
            with lock:
                item = next(cursor, None)
            if item is None:
                break
            started = time.perf_counter()
            try:
                call(item)
            except Exception as error:  # recorded, reported after the run
                errors.append(repr(error))
            local.append(time.perf_counter() - started)
        with lock:
            latencies.extend(local)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if errors:
        raise click.ClickException(f"{len(errors)} calls failed, e.g. {errors[0]}")
    return latencies, wall


def _http_call(base: str):
    def call(params: dict):
        url = base + "/api/v1/mentors?" + urlencode(params)
        with urllib.request.urlopen(url, timeout=30) as response:
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"{response.status} for {url}")
        return body

    return call


# ---------------------------------------------------------------- SQL floor


def _sql_statements(app, mix: list[dict]) -> list:
    statements = []
    with app.test_request_context():
        for params in mix:
            filters = parse_filters(MultiDict(params), topic_ids_by_slug=topic_ids_by_slug)
            statements.append(search_statement(filters))
    return statements


# ---------------------------------------------------------------- command


@click.command("search")
@click.option("--mentors", default=10000, show_default=True, type=click.IntRange(10))
@click.option("--reviews", default=200000, show_default=True, type=click.IntRange(0))
@click.option("--db", "kind", type=click.Choice(["sqlite", "postgres"]), default="sqlite", show_default=True)
@click.option("--requests", "request_count", default=2000, show_default=True, type=click.IntRange(50))
@click.option("--clients", default=8, show_default=True, type=click.IntRange(1))
@click.option("--seed", "random_seed", default=7, show_default=True, type=int)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--keep", is_flag=True, help="Keep the benchmark database afterwards.")
def search(mentors: int, reviews: int, kind: str, request_count: int, clients: int, random_seed: int,
           json_path: Path | None, keep: bool) -> None:
    """Seed MENTORS mentors and REVIEWS reviews, then time the search mix over HTTP and in SQL."""
    var_dir = Path(tempfile.mkdtemp(prefix="mentorhub-bench-"))
    server = None
    try:
        database_url = _fresh_database(kind, var_dir)
        settings = _settings_for(var_dir, database_url)
        app = create_app(settings=settings)
        with app.app_context():
            upgrade()
        started = time.perf_counter()
        counts = seed(app, mentors, reviews, random_seed)
        counts["free_slots"] = build_free_slots(app)
        click.echo(f"seeded {kind} in {time.perf_counter() - started:.1f}s: "
                   + ", ".join(f"{k}={v}" for k, v in counts.items()))

        mix = query_mix(request_count, random_seed + 4)
        server, base = _start_server(var_dir, database_url)
        call = _http_call(base)
        _run_concurrently(query_mix(100, random_seed + 99), clients, call)  # warm-up: caches, plans, pool
        load_before = os.getloadavg()[0]
        server_cpu = tree_cpu_seconds(server.pid)
        latencies, wall = _run_concurrently(mix, clients, call)
        server_cpu = tree_cpu_seconds(server.pid) - server_cpu

        statements = _sql_statements(app, mix)
        with app.app_context():
            engine = db.engine

            def sql_call(statement):
                with engine.connect() as connection:
                    connection.execute(statement).all()

            _run_concurrently(statements[:100], clients, sql_call)
            sql_latencies, sql_wall = _run_concurrently(statements, clients, sql_call)
            events = db.session.scalar(sa.text("SELECT count(*) FROM events WHERE event_type = 'search'"))

        ms = [x * 1000 for x in latencies]
        sql_ms = [x * 1000 for x in sql_latencies]
        figures = {
            "db": kind, "mentors": mentors, "reviews": reviews, "requests": len(ms), "clients": clients,
            "p50_ms": round(percentile(ms, 50), 2), "p95_ms": round(percentile(ms, 95), 2),
            "p99_ms": round(percentile(ms, 99), 2), "mean_ms": round(statistics.fmean(ms), 2),
            "rps": round(len(ms) / wall, 1),
            "sql_p50_ms": round(percentile(sql_ms, 50), 2), "sql_p95_ms": round(percentile(sql_ms, 95), 2),
            "sql_p99_ms": round(percentile(sql_ms, 99), 2), "sql_qps": round(len(sql_ms) / sql_wall, 1),
        }
        figures["ratio_p99"] = round(figures["p99_ms"] / figures["sql_p99_ms"], 2)
        figures["search_events_logged"] = events
        figures["server_cpu_ms_per_request"] = round(server_cpu * 1000 / len(ms), 2)
        figures["server_workers"] = SERVER_WORKERS
        figures["load_average_1m"] = round(load_before, 2)
        figures["cpus"] = os.cpu_count()
        click.echo(f"HTTP  ({clients} clients, {len(ms)} searches): p50 {figures['p50_ms']:.1f} ms, "
                   f"p95 {figures['p95_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms, {figures['rps']:.0f} req/s")
        click.echo(f"SQL   (same searches, page statement only): p50 {figures['sql_p50_ms']:.1f} ms, "
                   f"p95 {figures['sql_p95_ms']:.1f} ms, p99 {figures['sql_p99_ms']:.1f} ms, "
                   f"{figures['sql_qps']:.0f} q/s")
        click.echo(f"ratio p99 HTTP/SQL: {figures['ratio_p99']:.2f}x (goal: p99 < 50 ms and ratio <= 3x)")
        if json_path:
            json_path.write_text(json.dumps(figures, indent=2))
        with app.app_context():
            db.engine.dispose()
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        if not keep:
            shutil.rmtree(var_dir, ignore_errors=True)
            if kind == "postgres":
                _drop_postgres()


def _drop_postgres() -> None:
    engine = sa.create_engine(harness_settings().test_postgres_url.replace("postgresql://", "postgresql+psycopg2://", 1),
                              isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)'))
    engine.dispose()
