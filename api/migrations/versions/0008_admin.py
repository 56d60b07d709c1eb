"""admin: the audit log of admin actions and admins' TOTP secrets

Revision ID: 0008_admin
Revises: 0009_search_perf (the tree's head when this was written; 0006_payments chains on this one)
Create Date: 2026-11-28 10:00:00

Only new tables, referencing users: the migration can be re-chained onto any parent.
"""
from alembic import op
import sqlalchemy as sa


revision = "0008_admin"
down_revision = "0009_search_perf"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "admin_audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("admin_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=32), nullable=True),
        sa.Column("target_id", sa.String(length=64), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["admin_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("admin_audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_admin_audit_occurred_at", ["occurred_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_admin_audit_log_admin_id"), ["admin_id"], unique=False)

    op.create_table(
        "admin_totp",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("secret_encrypted", sa.String(length=255), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_counter", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
    )


def downgrade():
    op.drop_table("admin_totp")
    with op.batch_alter_table("admin_audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_admin_audit_log_admin_id"))
        batch_op.drop_index("ix_admin_audit_occurred_at")
    op.drop_table("admin_audit_log")
