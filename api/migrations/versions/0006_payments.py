"""payments: provider checkouts, outgoing payment operations, the ledger

Revision ID: 0006_payments
Revises: 0008_admin
Create Date: 2026-12-01 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = "0006_payments"
down_revision = "0008_admin"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "payment_checkouts",
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("order_ref", sa.String(length=255), nullable=False),
        sa.Column("charge_ref", sa.String(length=255), nullable=True),
        sa.Column("provider_status", sa.String(length=32), nullable=False),
        sa.Column("list_price_minor", sa.Integer(), nullable=False),
        sa.Column("list_currency", sa.String(length=3), nullable=False),
        sa.Column("fee_basis_points", sa.Integer(), nullable=False),
        sa.Column("authorized_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("payment_id"),
        sa.UniqueConstraint("order_ref", name="uq_payment_checkouts_order_ref"),
        sa.UniqueConstraint("charge_ref", name="uq_payment_checkouts_charge_ref"),
    )
    op.create_table(
        "payment_operations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("provider_ref", sa.String(length=255), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("refund_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_minor >= 0", name="ck_payment_operation_amount"),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["refund_id"], ["refunds.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key", name="uq_payment_operations_idempotency_key"),
    )
    op.create_index("ix_payment_operations_payment_id", "payment_operations", ["payment_id"])
    op.create_index("ix_payment_operations_status", "payment_operations", ["status", "id"])
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_key", sa.String(length=160), nullable=False),
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("amount_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=True),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.Column("mentor_id", sa.Integer(), nullable=True),
        sa.Column("memo", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["booking_id"], ["bookings.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["mentor_id"], ["users.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("entry_key", name="uq_ledger_entries_entry_key"),
    )
    op.create_index("ix_ledger_entries_booking_id", "ledger_entries", ["booking_id"])
    op.create_index("ix_ledger_account_created", "ledger_entries", ["account", "created_at"])
    op.create_index("ix_ledger_mentor_account", "ledger_entries", ["mentor_id", "account"])


def downgrade():
    op.drop_index("ix_ledger_mentor_account", table_name="ledger_entries")
    op.drop_index("ix_ledger_account_created", table_name="ledger_entries")
    op.drop_index("ix_ledger_entries_booking_id", table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_index("ix_payment_operations_status", table_name="payment_operations")
    op.drop_index("ix_payment_operations_payment_id", table_name="payment_operations")
    op.drop_table("payment_operations")
    op.drop_table("payment_checkouts")
