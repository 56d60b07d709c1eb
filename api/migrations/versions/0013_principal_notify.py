"""PostgreSQL: NOTIFY mentorhub_principals when an account's session facts change

Revision ID: 0013_principal_notify
Revises: 0012_events_sequence

The recommendation tier keeps every account's session version, active flag, roles, currency and time zone
in memory (api.recommendations.caches) instead of querying them on every request. These triggers tell it what
changed: the user id of a changed, added or deleted account or role, or '*' after a TRUNCATE. PostgreSQL
delivers a notification when its transaction commits, in commit order. (SQLite has no cross-process
notification: the tier queries there.)
"""
from alembic import op

revision = "0013_principal_notify"
down_revision = "0012_events_sequence"
branch_labels = None
depends_on = None

FUNCTION = """
CREATE FUNCTION mentorhub_principal_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_LEVEL = 'STATEMENT' THEN
        PERFORM pg_notify('mentorhub_principals', '*');
    ELSIF TG_TABLE_NAME = 'users' THEN
        PERFORM pg_notify('mentorhub_principals', (CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END)::text);
    ELSE
        IF TG_OP <> 'INSERT' THEN
            PERFORM pg_notify('mentorhub_principals', OLD.user_id::text);
        END IF;
        IF TG_OP <> 'DELETE' THEN
            PERFORM pg_notify('mentorhub_principals', NEW.user_id::text);
        END IF;
    END IF;
    RETURN NULL;
END
$$
"""

TRIGGERS = [  # (name, table, events, level)
    ("users_principal_changed", "users",
     "INSERT OR DELETE OR UPDATE OF session_version, is_active_account, currency, timezone", "ROW"),
    ("users_principals_truncated", "users", "TRUNCATE", "STATEMENT"),
    ("user_roles_principal_changed", "user_roles", "INSERT OR UPDATE OR DELETE", "ROW"),
    ("user_roles_principals_truncated", "user_roles", "TRUNCATE", "STATEMENT"),
]


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    for name, table, events, level in TRIGGERS:
        op.execute(f"CREATE TRIGGER {name} AFTER {events} ON {table} FOR EACH {level} "
                   "EXECUTE FUNCTION mentorhub_principal_changed()")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, table, _events, _level in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
    op.execute("DROP FUNCTION IF EXISTS mentorhub_principal_changed()")
