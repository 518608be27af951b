"""Index opportunities by customer: the customer overview and merge look them up by it

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_opportunities_customer_id", "opportunities", ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_opportunities_customer_id", table_name="opportunities")
