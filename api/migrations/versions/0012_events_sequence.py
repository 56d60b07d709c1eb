"""SQLite: events ids from an AUTOINCREMENT sequence, so several server processes can reserve exposure ids

Revision ID: 0012_events_sequence
Revises: 0011_free_slots

A recommendation response carries the id of its exposure event before the row is written. PostgreSQL
hands those ids out from the events sequence. On SQLite the table now has AUTOINCREMENT: its counter in
`sqlite_sequence` is what a writer bumps to reserve a block of ids, and every other insert, from any
process, gets an id above every block reserved. (The table is rebuilt; its append-only triggers with it.)
"""
from alembic import op

revision = "0012_events_sequence"
down_revision = "0011_free_slots"
branch_labels = None
depends_on = None

TRIGGERS = [f"CREATE TRIGGER events_no_{action.lower()} BEFORE {action} ON events "
            "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END" for action in ("UPDATE", "DELETE")]


def _rebuild(autoincrement: bool) -> None:
    op.execute("DROP TRIGGER IF EXISTS events_no_update")
    op.execute("DROP TRIGGER IF EXISTS events_no_delete")
    with op.batch_alter_table("events", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}):
        pass
    for trigger in TRIGGERS:
        op.execute(trigger)


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(autoincrement=True)


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(autoincrement=False)
