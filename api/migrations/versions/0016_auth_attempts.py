"""auth counters: failed log-ins, codes and mails per account (and IP), one-time two-factor nonces

Revision ID: 0016_auth_attempts
Revises: 0015_currency_preference

One new table, referencing nothing: the migration can be re-chained onto any parent.
"""
from alembic import op
import sqlalchemy as sa

revision = "0016_auth_attempts"
down_revision = "0015_currency_preference"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "auth_counters",
        sa.Column("key", sa.String(length=96), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("window_ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_auth_counters_window_ends_at", "auth_counters", ["window_ends_at"], unique=False)


def downgrade():
    op.drop_index("ix_auth_counters_window_ends_at", table_name="auth_counters")
    op.drop_table("auth_counters")
