"""Login throttles count failures and the checks in flight apart; expired windows are pruned by their start

Revision ID: 598c36366de2
Revises: 5c0d1e2f3a4b
Create Date: 2026-12-06 09:43:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "598c36366de2"
down_revision: str | None = "5c0d1e2f3a4b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The claims counted so far stay counted, as failures: a username locked now stays locked until its window ends.
    with op.batch_alter_table("login_throttles") as batch:
        batch.alter_column("attempts", new_column_name="failures", existing_type=sa.Integer(), existing_nullable=False)
        batch.add_column(sa.Column("checks_in_flight", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("login_throttles") as batch:
        batch.alter_column("checks_in_flight", server_default=None, existing_type=sa.Integer(), existing_nullable=False)
    op.create_index(op.f("ix_login_throttles_window_started_at"), "login_throttles", ["window_started_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_login_throttles_window_started_at"), table_name="login_throttles")
    op.execute("UPDATE login_throttles SET failures = failures + checks_in_flight")
    with op.batch_alter_table("login_throttles") as batch:
        batch.drop_column("checks_in_flight")
        batch.alter_column("failures", new_column_name="attempts", existing_type=sa.Integer(), existing_nullable=False)
