"""availability search index: weekly rules by zone, weekday and time window

Revision ID: 0010_availability_index
Revises: 0006_payments
"""
from alembic import op

revision = "0010_availability_index"
down_revision = "0006_payments"
branch_labels = None
depends_on = None


def upgrade():
    # the search's availability filter joins rules on (timezone, weekday) and ranges over the times
    op.create_index("ix_availability_rules_zone_day_window", "availability_rules",
                    ["timezone", "weekday", "start_time", "end_time", "mentor_id"])


def downgrade():
    op.drop_index("ix_availability_rules_zone_day_window", table_name="availability_rules")
