"""A version on every editable record: its ETag and the compare in each compare-and-set

Revision ID: 44939eeac76a
Revises: 0011
Create Date: 2026-12-06 07:09:08.110061
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "44939eeac76a"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VERSIONED_TABLES = (
    "campaign_variants",
    "campaigns",
    "churn_warnings",
    "contacts",
    "customers",
    "dictionary_items",
    "documents",
    "interactions",
    "kb_articles",
    "lead_assignment_rules",
    "leads",
    "opportunities",
    "opportunity_plan_items",
    "roles",
    "segments",
    "service_tickets",
    "sla_policies",
    "tasks",
    "teams",
    "ticket_routing_rules",
    "users",
    "webhook_subscriptions",
)


def upgrade() -> None:
    for table in VERSIONED_TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False))


def downgrade() -> None:
    for table in VERSIONED_TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("version")
