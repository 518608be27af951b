"""Login throttles: the password checks claimed per username in its lockout window

Revision ID: af5997c71828
Revises: 44939eeac76a
Create Date: 2026-12-06 07:37:59.717613
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "af5997c71828"
down_revision: str | None = "44939eeac76a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_throttles",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_login_throttles")),
    )


def downgrade() -> None:
    op.drop_table("login_throttles")
