"""Job runs record the fire time they served, so a fire time runs once across scheduler processes

Revision ID: 5c0d1e2f3a4b
Revises: 7526cb83e9e2
Create Date: 2026-12-06 09:01:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5c0d1e2f3a4b"
down_revision: str | None = "7526cb83e9e2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_job_runs_job_scheduled_for", ["job", "scheduled_for"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_job_runs_job_scheduled_for")
        batch_op.drop_column("scheduled_for")
