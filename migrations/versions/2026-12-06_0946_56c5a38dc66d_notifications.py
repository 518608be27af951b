"""The message centre: a notification per user, the channels each user chose, the SMTP server and group robots, and
the channels' delivery log

Revision ID: 56c5a38dc66d
Revises: 2698b69cd5fe
Create Date: 2026-12-06 09:44:34
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "56c5a38dc66d"
down_revision: str | None = "2698b69cd5fe"
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
CHANNELS = ("email", "wecom", "dingtalk", "feishu")
UNREAD = sa.text("read_at IS NULL")


def one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "notification_channel_preferences",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.CheckConstraint(one_of("channel", CHANNELS), name=op.f("ck_notification_channel_preferences_channel_known")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notification_channel_preferences_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "channel", name=op.f("pk_notification_channel_preferences")),
    )
    op.create_table(
        "notification_robots",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(one_of("kind", CHANNELS[1:]), name=op.f("ck_notification_robots_kind_known")),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_notification_robots")),
    )
    op.create_table(
        "smtp_settings",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("host", sa.String(length=253), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("security", sa.String(length=16), nullable=False),
        sa.Column("username", sa.String(length=254), nullable=True),
        sa.Column("password", sa.String(length=200), nullable=True),
        sa.Column("sender", sa.String(length=254), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(one_of("security", ("none", "starttls", "tls")), name=op.f("ck_smtp_settings_security_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_smtp_settings")),
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
        sa.CheckConstraint(one_of("type", TYPES), name=op.f("ck_notifications_type_known")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_notifications_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index("ix_notifications_entity", "notifications", ["entity_type", "entity_id"])
    op.create_index("ix_notifications_unread", "notifications", ["user_id"], sqlite_where=UNREAD, postgresql_where=UNREAD)
    op.create_index("ix_notifications_user_id_id", "notifications", ["user_id", "id"])
    op.create_table(
        "channel_deliveries",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("notification_id", ID, nullable=True),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(one_of("channel", CHANNELS), name=op.f("ck_channel_deliveries_channel_known")),
        sa.CheckConstraint(
            one_of("status", ("pending", "failed", "succeeded", "dead")), name=op.f("ck_channel_deliveries_status_known")
        ),
        sa.CheckConstraint(
            one_of("purpose", ("notification", "contact_email", "weekly_report")),
            name=op.f("ck_channel_deliveries_purpose_known"),
        ),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_channel_deliveries_notification_id_notifications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_deliveries")),
    )
    op.create_index("ix_channel_deliveries_due", "channel_deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_channel_deliveries_notification_id", "channel_deliveries", ["notification_id"])


def downgrade() -> None:
    op.drop_table("channel_deliveries")
    op.drop_table("notifications")
    op.drop_table("smtp_settings")
    op.drop_table("notification_robots")
    op.drop_table("notification_channel_preferences")
