"""free-slot index: every mentor's bookable slots, precomputed for the search's availability filter

Revision ID: 0011_free_slots
Revises: 0010_availability_index

`api.search.free_slots` fills the table (on the first search, or `mentorhub refresh-ranking`) and keeps it
current in the same transaction as every change of a mentor's bookings, rules, exceptions or policy.
"""
from alembic import op
import sqlalchemy as sa

revision = "0011_free_slots"
down_revision = "0010_availability_index"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "mentor_free_slots",
        sa.Column("mentor_id", sa.Integer(), sa.ForeignKey("mentor_profiles.user_id", ondelete="CASCADE"),
                  nullable=False),
        # Unix seconds (UTC): compact keys that compare fast on both databases
        sa.Column("starts_at", sa.BigInteger(), nullable=False),
        sa.Column("ends_at", sa.BigInteger(), nullable=False),
        sa.Column("opens_at", sa.BigInteger(), nullable=False),
        sa.Column("closes_at", sa.BigInteger(), nullable=False),
        # the key holds every column the search reads, so each probe is index-only
        sa.PrimaryKeyConstraint("mentor_id", "starts_at", name="pk_mentor_free_slots",
                                postgresql_include=["ends_at", "opens_at", "closes_at"]),
        sqlite_with_rowid=False,
    )
    if op.get_bind().dialect.name == "postgresql":
        # searches are short index walks run by many clients at once: a parallel plan (chosen when a filter's
        # estimate comes out low) only adds worker start-up and competes with the other searches for the cores
        op.execute("ALTER TABLE mentor_profiles SET (parallel_workers = 0)")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE mentor_profiles RESET (parallel_workers)")
    op.drop_table("mentor_free_slots")
    op.execute("DELETE FROM search_ranking_params WHERE name LIKE 'free_slots:%'")
