"""discovery: full-text search indexes, search/review indexes, review moderation and reports

Revision ID: 0005_discovery
Revises: 0001 per the brief (chained on the tree's current head until the merge; see down_revision)
Create Date: 2026-11-27 14:00:00

PostgreSQL: `mentor_profiles.search_vector` (tsvector, weighted: name and headline A, topics B,
bio and past roles C) kept current by triggers on mentor_profiles, users, mentor_topics and
topics, with a GIN index. SQLite: the FTS5 table `mentor_search` (rowid = mentor user id) kept
current by triggers on the same tables. Both are read only by api/search/query.py.

Note for later SQLite migrations: a batch operation that *recreates* users, mentor_profiles,
mentor_topics or topics drops their triggers; re-run `_create_sqlite_search()` afterwards.
"""
from alembic import op
import sqlalchemy as sa


revision = "0005_discovery"
# The brief asks for "0001"; while other revisions chained on 0001 live in the same tree, "0001"
# would give Alembic two heads and break `upgrade()` for everyone: re-chain at the merge.
down_revision = "0003_bookings"
branch_labels = None
depends_on = None


# ---------------------------------------------------------------- PostgreSQL full-text search

PG_VECTOR_FUNCTION = """
CREATE FUNCTION mentor_search_vector(p_user_id integer, p_headline text, p_bio text, p_past_roles json)
RETURNS tsvector LANGUAGE sql STABLE AS $$
  SELECT setweight(to_tsvector('english', coalesce((SELECT full_name FROM users WHERE id = p_user_id), '')), 'A')
      || setweight(to_tsvector('english', coalesce(p_headline, '')), 'A')
      || setweight(to_tsvector('english', coalesce((
            SELECT string_agg(t.name || ' ' || replace(t.slug, '-', ' '), ' ')
            FROM mentor_topics mt JOIN topics t ON t.id = mt.topic_id
            WHERE mt.mentor_id = p_user_id), '')), 'B')
      || setweight(to_tsvector('english', coalesce(p_bio, '') || ' ' || coalesce((
            SELECT string_agg(value, ' ') FROM json_array_elements_text(
              CASE WHEN json_typeof(p_past_roles) = 'array' THEN p_past_roles ELSE '[]'::json END)), '')), 'C')
$$
"""

PG_TRIGGERS = [
    """
    CREATE FUNCTION mentor_search_profile_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      NEW.search_vector := mentor_search_vector(NEW.user_id, NEW.headline, NEW.bio, NEW.past_roles);
      RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER mentor_search_profile BEFORE INSERT OR UPDATE OF headline, bio, past_roles, user_id
    ON mentor_profiles FOR EACH ROW EXECUTE FUNCTION mentor_search_profile_trigger()
    """,
    """
    CREATE FUNCTION mentor_search_refresh(p_user_id integer) RETURNS void LANGUAGE sql AS $$
      UPDATE mentor_profiles
      SET search_vector = mentor_search_vector(user_id, headline, bio, past_roles)
      WHERE user_id = p_user_id
    $$
    """,
    """
    CREATE FUNCTION mentor_search_user_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM mentor_search_refresh(NEW.id);
      RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER mentor_search_user AFTER UPDATE OF full_name ON users
    FOR EACH ROW EXECUTE FUNCTION mentor_search_user_trigger()
    """,
    """
    CREATE FUNCTION mentor_search_topics_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'DELETE' THEN
        PERFORM mentor_search_refresh(OLD.mentor_id);
      ELSE
        PERFORM mentor_search_refresh(NEW.mentor_id);
      END IF;
      RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER mentor_search_topics AFTER INSERT OR DELETE ON mentor_topics
    FOR EACH ROW EXECUTE FUNCTION mentor_search_topics_trigger()
    """,
    """
    CREATE FUNCTION mentor_search_topic_name_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE mentor_profiles
      SET search_vector = mentor_search_vector(user_id, headline, bio, past_roles)
      WHERE user_id IN (SELECT mentor_id FROM mentor_topics WHERE topic_id = NEW.id);
      RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER mentor_search_topic_name AFTER UPDATE OF name, slug ON topics
    FOR EACH ROW EXECUTE FUNCTION mentor_search_topic_name_trigger()
    """,
]

PG_DROP = [
    "DROP TRIGGER IF EXISTS mentor_search_topic_name ON topics",
    "DROP TRIGGER IF EXISTS mentor_search_topics ON mentor_topics",
    "DROP TRIGGER IF EXISTS mentor_search_user ON users",
    "DROP TRIGGER IF EXISTS mentor_search_profile ON mentor_profiles",
    "DROP FUNCTION IF EXISTS mentor_search_topic_name_trigger()",
    "DROP FUNCTION IF EXISTS mentor_search_topics_trigger()",
    "DROP FUNCTION IF EXISTS mentor_search_user_trigger()",
    "DROP FUNCTION IF EXISTS mentor_search_profile_trigger()",
    "DROP FUNCTION IF EXISTS mentor_search_refresh(integer)",
    "DROP FUNCTION IF EXISTS mentor_search_vector(integer, text, text, json)",
    "DROP INDEX IF EXISTS ix_mentor_profiles_search_vector",
    "ALTER TABLE mentor_profiles DROP COLUMN IF EXISTS search_vector",
]


def _create_postgres_search():
    op.execute("ALTER TABLE mentor_profiles ADD COLUMN search_vector tsvector")
    op.execute(PG_VECTOR_FUNCTION)
    for statement in PG_TRIGGERS:
        op.execute(statement)
    op.execute("UPDATE mentor_profiles SET search_vector = mentor_search_vector(user_id, headline, bio, past_roles)")
    op.execute("CREATE INDEX ix_mentor_profiles_search_vector ON mentor_profiles USING gin (search_vector)")


# ---------------------------------------------------------------- SQLite FTS5

# One mentor's row of the FTS table, rebuilt from the tables; {where} picks the mentors.
SQLITE_FILL = """
INSERT INTO mentor_search(rowid, name, headline, topics, body)
SELECT mp.user_id, coalesce(u.full_name, ''), coalesce(mp.headline, ''),
       coalesce((SELECT group_concat(t.name || ' ' || replace(t.slug, '-', ' '), ' ')
                 FROM mentor_topics mt JOIN topics t ON t.id = mt.topic_id
                 WHERE mt.mentor_id = mp.user_id), ''),
       coalesce(mp.bio, '') || ' ' || coalesce((
         SELECT group_concat(value, ' ') FROM json_each(
           CASE WHEN json_valid(mp.past_roles) AND json_type(mp.past_roles) = 'array'
                THEN mp.past_roles ELSE '[]' END)), '')
FROM mentor_profiles mp JOIN users u ON u.id = mp.user_id
WHERE {where}
"""


def _sqlite_refresh(mentor_expr: str) -> str:
    return (f"DELETE FROM mentor_search WHERE rowid = {mentor_expr}; "
            + SQLITE_FILL.format(where=f"mp.user_id = {mentor_expr}").strip() + ";")


def _sqlite_triggers() -> list[str]:
    topic_mentors = "(SELECT mentor_id FROM mentor_topics WHERE topic_id = NEW.id)"
    return [
        f"CREATE TRIGGER mentor_search_profile_insert AFTER INSERT ON mentor_profiles BEGIN "
        f"{_sqlite_refresh('NEW.user_id')} END",
        f"CREATE TRIGGER mentor_search_profile_update AFTER UPDATE OF headline, bio, past_roles, user_id "
        f"ON mentor_profiles BEGIN DELETE FROM mentor_search WHERE rowid = OLD.user_id; "
        f"{_sqlite_refresh('NEW.user_id')} END",
        "CREATE TRIGGER mentor_search_profile_delete AFTER DELETE ON mentor_profiles BEGIN "
        "DELETE FROM mentor_search WHERE rowid = OLD.user_id; END",
        f"CREATE TRIGGER mentor_search_user AFTER UPDATE OF full_name ON users BEGIN "
        f"{_sqlite_refresh('NEW.id')} END",
        f"CREATE TRIGGER mentor_search_topics_insert AFTER INSERT ON mentor_topics BEGIN "
        f"{_sqlite_refresh('NEW.mentor_id')} END",
        f"CREATE TRIGGER mentor_search_topics_delete AFTER DELETE ON mentor_topics BEGIN "
        f"{_sqlite_refresh('OLD.mentor_id')} END",
        f"CREATE TRIGGER mentor_search_topic_name AFTER UPDATE OF name, slug ON topics BEGIN "
        f"DELETE FROM mentor_search WHERE rowid IN {topic_mentors}; "
        + SQLITE_FILL.format(where=f"mp.user_id IN {topic_mentors}").strip() + "; END",
    ]


SQLITE_TRIGGER_NAMES = (
    "mentor_search_profile_insert", "mentor_search_profile_update", "mentor_search_profile_delete",
    "mentor_search_user", "mentor_search_topics_insert", "mentor_search_topics_delete", "mentor_search_topic_name",
)


def _create_sqlite_search():
    op.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS mentor_search USING fts5("
        "name, headline, topics, body, tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    for name in SQLITE_TRIGGER_NAMES:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for statement in _sqlite_triggers():
        op.execute(statement)
    op.execute("DELETE FROM mentor_search")
    op.execute(SQLITE_FILL.format(where="1 = 1"))


def _drop_sqlite_search():
    for name in SQLITE_TRIGGER_NAMES:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS mentor_search")


# ---------------------------------------------------------------- upgrade / downgrade

def upgrade():
    dialect = op.get_bind().dialect.name

    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.add_column(sa.Column("replied_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("hidden_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("hidden_by", sa.Integer(), nullable=True))
        batch_op.create_index("ix_reviews_mentor_created", ["mentor_id", "created_at"], unique=False)
    with op.batch_alter_table("learner_ratings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        # popularity: completed sessions per mentor in a recent window (covering index)
        batch_op.create_index("ix_bookings_status_ends_mentor", ["status", "ends_at", "mentor_id"], unique=False)
    with op.batch_alter_table("availability_rules", schema=None) as batch_op:
        batch_op.create_index("ix_availability_rules_tz_weekday", ["timezone", "weekday", "start_time"], unique=False)

    op.create_table(
        "review_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["review_id"], ["reviews.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["reporter_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("review_id", "reporter_id", name="uq_review_report_reporter"),
    )
    with op.batch_alter_table("review_reports", schema=None) as batch_op:
        batch_op.create_index("ix_review_reports_review_id", ["review_id"], unique=False)

    if dialect == "postgresql":
        _create_postgres_search()
    elif dialect == "sqlite":
        _create_sqlite_search()


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for statement in PG_DROP:
            op.execute(statement)
    elif dialect == "sqlite":
        _drop_sqlite_search()

    with op.batch_alter_table("review_reports", schema=None) as batch_op:
        batch_op.drop_index("ix_review_reports_review_id")
    op.drop_table("review_reports")
    with op.batch_alter_table("availability_rules", schema=None) as batch_op:
        batch_op.drop_index("ix_availability_rules_tz_weekday")
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_index("ix_bookings_status_ends_mentor")
    with op.batch_alter_table("learner_ratings", schema=None) as batch_op:
        batch_op.drop_column("note")
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_index("ix_reviews_mentor_created")
        batch_op.drop_column("hidden_by")
        batch_op.drop_column("hidden_at")
        batch_op.drop_column("replied_at")
