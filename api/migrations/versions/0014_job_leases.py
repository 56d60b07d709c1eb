"""job leases: one runner at a time for the periodic jobs the servers run

Revision ID: 0014_job_leases
Revises: 0013_principal_notify

Every server process (eventlet, gunicorn workers) runs the periodic jobs' scheduler; before each run it
takes the lease with an atomic `UPDATE job_leases ... WHERE name = :name AND (expires_at < :now OR
holder = :me)`, so one process runs them while the others wait, and a dead holder's lease is taken over
once it expires.
"""
import sqlalchemy as sa
from alembic import op

revision = "0014_job_leases"
down_revision = "0013_principal_notify"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "job_leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False, server_default=""),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade():
    op.drop_table("job_leases")
