"""search performance: denormalised, indexed ranking columns on mentor_profiles, kept current by triggers

Revision ID: 0009_search_perf
Revises: the head of the tree when written (see down_revision)
Create Date: 2026-12-02 16:00:00

mentor_profiles gains three ranking columns so that a search can let an index do the sort and stop
after one page (instead of computing a value per approved mentor and sorting them all):

- `bayes_score`: the Bayesian average (w * m + rating_sum) / (w + rating_count), with the prior mean m
  and weight w stored in `search_ranking_params`;
- `price_usd_minor`: the price in US cents (unrounded; the rate per currency is a parameter too), which
  orders mentors exactly as the price converted into any learner currency does;
- `completed_90d`: completed sessions that ended in the popularity window (90 days).

Triggers keep them current on every write, whoever writes: rating and price changes on mentor_profiles,
and inserts, status/time/mentor changes and deletes of bookings. The sliding 90-day window and a changed
prior mean, weight or currency rate are reconciled by `api.search.ranking_columns.refresh()` (called by
the search itself at most every few minutes, and by `mentorhub search refresh-ranking` when attached).

Note for later SQLite migrations: a batch operation that *recreates* mentor_profiles or bookings drops
their triggers; re-run `_create_sqlite_triggers()` afterwards (as 0005's note says for the FTS triggers).
"""
from alembic import op
import sqlalchemy as sa


revision = "0009_search_perf"
down_revision = "0004_chat"
branch_labels = None
depends_on = None

# Frozen copies of the app's defaults at the time of writing; the app re-syncs the parameters.
DEFAULT_PRIOR_MEAN = 4.0
DEFAULT_PRIOR_WEIGHT = 10.0
DEFAULT_POPULARITY_DAYS = 90
# US cents per minor unit of each currency (api.search.currency's fixed demo rates).
USD_MINOR_PER_MINOR = {"USD": 1.0, "EUR": 1.08, "GBP": 1.27, "INR": 0.012, "CAD": 0.73, "AUD": 0.66,
                       "JPY": 0.0067 * 100}

INDEXES = {
    # status first: every search is "approved mentors ordered by ..."; ties broken by user_id as the query does
    "ix_mentor_profiles_rank_rating": "status, bayes_score DESC, rating_count DESC, user_id",
    "ix_mentor_profiles_rank_price_low": "status, price_usd_minor, user_id",
    "ix_mentor_profiles_rank_price_high": "status, price_usd_minor DESC, user_id",
    "ix_mentor_profiles_rank_popularity": "status, completed_90d DESC, bayes_score DESC, user_id",
    "ix_mentor_profiles_rank_experience": "status, years_experience DESC, bayes_score DESC, user_id",
}


def _param(name: str, default: str) -> str:
    return f"coalesce((SELECT value FROM search_ranking_params WHERE name = {name}), {default})"


def _bayes(rating_sum: str, rating_count: str) -> str:
    weight = _param("'prior_weight'", str(DEFAULT_PRIOR_WEIGHT))
    mean = _param("'prior_mean'", str(DEFAULT_PRIOR_MEAN))
    return f"(({weight}) * ({mean}) + {rating_sum}) / (({weight}) + {rating_count})"


def _usd(price_minor: str, currency: str) -> str:
    # the frozen rates back the parameter up (a truncated parameter table must not price everything at 1:1)
    frozen = "CASE " + currency + " " + " ".join(f"WHEN '{code}' THEN {rate!r}" for code, rate in
                                             USD_MINOR_PER_MINOR.items()) + " ELSE 1.0 END"
    return f"{price_minor} * " + _param(f"'usd_minor:' || {currency}", frozen)


# ---------------------------------------------------------------- PostgreSQL

PG_FUNCTIONS = [
    f"""
    CREATE FUNCTION mentor_ranking_profile_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      NEW.bayes_score := {_bayes('NEW.rating_sum', 'NEW.rating_count')};
      NEW.price_usd_minor := {_usd('NEW.price_minor', 'NEW.currency')};
      RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER mentor_ranking_profile BEFORE INSERT OR UPDATE OF rating_sum, rating_count, price_minor, currency
    ON mentor_profiles FOR EACH ROW EXECUTE FUNCTION mentor_ranking_profile_trigger()
    """,
    f"""
    CREATE FUNCTION mentor_ranking_counts(p_status text, p_ends_at timestamptz) RETURNS boolean
    LANGUAGE sql STABLE AS $$
      SELECT p_status = 'completed' AND p_ends_at <= now()
         AND p_ends_at >= now() - make_interval(days => ({_param("'popularity_days'", str(DEFAULT_POPULARITY_DAYS))})::int)
    $$
    """,
    """
    CREATE FUNCTION mentor_ranking_booking_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP <> 'INSERT' AND OLD.status = 'completed' AND mentor_ranking_counts(OLD.status::text, OLD.ends_at) THEN
        UPDATE mentor_profiles SET completed_90d = completed_90d - 1 WHERE user_id = OLD.mentor_id;
      END IF;
      IF TG_OP <> 'DELETE' AND NEW.status = 'completed' AND mentor_ranking_counts(NEW.status::text, NEW.ends_at) THEN
        UPDATE mentor_profiles SET completed_90d = completed_90d + 1 WHERE user_id = NEW.mentor_id;
      END IF;
      RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER mentor_ranking_booking AFTER INSERT OR DELETE OR UPDATE OF status, ends_at, mentor_id
    ON bookings FOR EACH ROW EXECUTE FUNCTION mentor_ranking_booking_trigger()
    """,
]

PG_DROP = [
    "DROP TRIGGER IF EXISTS mentor_ranking_booking ON bookings",
    "DROP TRIGGER IF EXISTS mentor_ranking_profile ON mentor_profiles",
    "DROP FUNCTION IF EXISTS mentor_ranking_booking_trigger()",
    "DROP FUNCTION IF EXISTS mentor_ranking_counts(text, timestamptz)",
    "DROP FUNCTION IF EXISTS mentor_ranking_profile_trigger()",
]

# ---------------------------------------------------------------- SQLite

SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now')"
SQLITE_SINCE = ("strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || "
                + _param("'popularity_days'", str(DEFAULT_POPULARITY_DAYS)) + " || ' days')")


def _sqlite_counts(row: str) -> str:
    return f"{row}.status = 'completed' AND {row}.ends_at <= {SQLITE_NOW} AND {row}.ends_at >= {SQLITE_SINCE}"


def _sqlite_profile_refresh() -> str:
    return (f"UPDATE mentor_profiles SET bayes_score = {_bayes('NEW.rating_sum', 'NEW.rating_count')}, "
            f"price_usd_minor = {_usd('NEW.price_minor', 'NEW.currency')} WHERE user_id = NEW.user_id;")


def _sqlite_triggers() -> list[str]:
    decrement = (f"UPDATE mentor_profiles SET completed_90d = completed_90d - 1 "
                 f"WHERE user_id = OLD.mentor_id AND {_sqlite_counts('OLD')};")
    increment = (f"UPDATE mentor_profiles SET completed_90d = completed_90d + 1 "
                 f"WHERE user_id = NEW.mentor_id AND {_sqlite_counts('NEW')};")
    return [
        f"CREATE TRIGGER mentor_ranking_profile_insert AFTER INSERT ON mentor_profiles BEGIN "
        f"{_sqlite_profile_refresh()} END",
        f"CREATE TRIGGER mentor_ranking_profile_update AFTER UPDATE OF rating_sum, rating_count, price_minor, currency "
        f"ON mentor_profiles BEGIN {_sqlite_profile_refresh()} END",
        f"CREATE TRIGGER mentor_ranking_booking_insert AFTER INSERT ON bookings WHEN NEW.status = 'completed' "
        f"BEGIN {increment} END",
        f"CREATE TRIGGER mentor_ranking_booking_update AFTER UPDATE OF status, ends_at, mentor_id ON bookings "
        f"WHEN OLD.status = 'completed' OR NEW.status = 'completed' BEGIN {decrement} {increment} END",
        f"CREATE TRIGGER mentor_ranking_booking_delete AFTER DELETE ON bookings WHEN OLD.status = 'completed' "
        f"BEGIN {decrement} END",
    ]


SQLITE_TRIGGER_NAMES = ("mentor_ranking_profile_insert", "mentor_ranking_profile_update",
                        "mentor_ranking_booking_insert", "mentor_ranking_booking_update",
                        "mentor_ranking_booking_delete")


def _create_sqlite_triggers():
    for name in SQLITE_TRIGGER_NAMES:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for statement in _sqlite_triggers():
        op.execute(statement)


# ---------------------------------------------------------------- backfill


def _backfill(dialect: str) -> None:
    bind = op.get_bind()
    total, count = bind.execute(sa.text(
        "SELECT coalesce(sum(rating_sum), 0), coalesce(sum(rating_count), 0) FROM mentor_profiles "
        "WHERE status = 'approved'")).one()
    mean = float(total) / float(count) if count else DEFAULT_PRIOR_MEAN
    params = {"prior_mean": mean, "prior_weight": DEFAULT_PRIOR_WEIGHT, "popularity_days": DEFAULT_POPULARITY_DAYS}
    params.update({f"usd_minor:{code}": rate for code, rate in USD_MINOR_PER_MINOR.items()})
    table = sa.table("search_ranking_params", sa.column("name", sa.String), sa.column("value", sa.Float))
    op.bulk_insert(table, [{"name": k, "value": float(v)} for k, v in params.items()])
    op.execute(f"UPDATE mentor_profiles SET bayes_score = {_bayes('rating_sum', 'rating_count')}, "
               f"price_usd_minor = {_usd('price_minor', 'currency')}")
    if dialect == "postgresql":
        counts = "status = 'completed' AND ends_at <= now() AND ends_at >= now() - interval '90 days'"
    else:
        counts = (f"status = 'completed' AND ends_at <= {SQLITE_NOW} "
                  f"AND ends_at >= strftime('%Y-%m-%d %H:%M:%f', 'now', '-90 days')")
    op.execute("UPDATE mentor_profiles SET completed_90d = coalesce((SELECT count(*) FROM bookings "
               f"WHERE bookings.mentor_id = mentor_profiles.user_id AND {counts}), 0)")


# ---------------------------------------------------------------- upgrade / downgrade


def upgrade():
    dialect = op.get_bind().dialect.name
    op.create_table(
        "search_ranking_params",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    # plain ADD COLUMN (no batch): recreating mentor_profiles on SQLite would drop 0005's FTS triggers
    op.add_column("mentor_profiles", sa.Column("bayes_score", sa.Float(), nullable=False, server_default="0"))
    op.add_column("mentor_profiles", sa.Column("price_usd_minor", sa.Float(), nullable=False, server_default="0"))
    op.add_column("mentor_profiles", sa.Column("completed_90d", sa.Integer(), nullable=False, server_default="0"))
    _backfill(dialect)
    for name, columns in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON mentor_profiles ({columns})")
    if dialect == "postgresql":
        for statement in PG_FUNCTIONS:
            op.execute(statement)
    elif dialect == "sqlite":
        _create_sqlite_triggers()


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for statement in PG_DROP:
            op.execute(statement)
    elif dialect == "sqlite":
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for name in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    for column in ("completed_90d", "price_usd_minor", "bayes_score"):
        op.execute(f"ALTER TABLE mentor_profiles DROP COLUMN {column}")
    op.drop_table("search_ranking_params")
