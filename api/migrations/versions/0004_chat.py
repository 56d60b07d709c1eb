"""chat: message reports and the room moderation log

Revision ID: 0004_chat
Revises: 0005_discovery (the brief says 0001: re-chain at merge; see down_revision)
Create Date: 2026-11-27 14:00:00

Only chat tables of 0001 (chat_rooms, messages) and users are referenced, so this migration can
be re-chained onto any parent.
"""
from alembic import op
import sqlalchemy as sa


revision = "0004_chat"
# The brief asks for "0001"; while 0002_accounts and 0003_bookings live in the same tree, "0001"
# would give Alembic two heads and break `upgrade()` for everyone, so this chains on the tree's
# current head (0005_discovery, itself on 0003_bookings) until the merge.
down_revision = "0005_discovery"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "chat_message_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["reporter_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["resolved_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id", "reporter_id", name="uq_chat_report_message_reporter"),
    )
    with op.batch_alter_table("chat_message_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_message_reports_message_id"), ["message_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_chat_message_reports_reporter_id"), ["reporter_id"], unique=False)

    op.create_table(
        "chat_moderation_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("moderator_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("target_user_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["room_id"], ["chat_rooms.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["moderator_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["target_user_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("chat_moderation_actions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_moderation_actions_room_id"), ["room_id"], unique=False)


def downgrade():
    with op.batch_alter_table("chat_moderation_actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_moderation_actions_room_id"))
    op.drop_table("chat_moderation_actions")
    with op.batch_alter_table("chat_message_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_message_reports_reporter_id"))
        batch_op.drop_index(batch_op.f("ix_chat_message_reports_message_id"))
    op.drop_table("chat_message_reports")
