"""The message centre: a notification per user, and each user's channel preferences

Revision ID: 56c5a38dc66d
Revises: 5c0d1e2f3a4b
Create Date: 2026-12-06 09:44:34
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "56c5a38dc66d"
down_revision: str | None = "5c0d1e2f3a4b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TYPES = (
    "assignment",
    "stall_warning",
    "follow_up_due",
    "churn_warning",
    "sla_breach",
    "approval_pending",
    "approval_decided",
    "weekly_report",
)
UNREAD = sa.text("read_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "notification_preferences",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notification_preferences_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_preferences")),
    )
    op.create_table(
        "notifications",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("entity_type", sa.String(length=32), nullable=True),
        sa.Column("entity_id", ID, nullable=True),
        sa.Column("path", sa.String(length=300), nullable=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"type IN ({', '.join(repr(t) for t in TYPES)})", name=op.f("ck_notifications_type_known")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_notifications_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index("ix_notifications_entity", "notifications", ["entity_type", "entity_id"])
    op.create_index("ix_notifications_unread", "notifications", ["user_id"], sqlite_where=UNREAD, postgresql_where=UNREAD)
    op.create_index("ix_notifications_user_id_id", "notifications", ["user_id", "id"])


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_table("notification_preferences")
