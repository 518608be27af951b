"""Installment reminders (when each was announced due soon and overdue) and documents attached to contracts

Revision ID: 72cbe566ab43
Revises: 452ba17bb0e2
Create Date: 2026-12-06 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "72cbe566ab43"
down_revision: str | None = "452ba17bb0e2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
NOTIFICATION_TYPES = (
    "assignment",
    "stall_warning",
    "follow_up_due",
    "churn_warning",
    "sla_breach",
    "approval_pending",
    "approval_decided",
    "weekly_report",
)
NEW_NOTIFICATION_TYPES = ("installment_due_soon", "installment_overdue")
ANNOUNCED = ("due_soon_notified_at", "overdue_notified_at")


def _one_of(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _notification_types(values: Sequence[str]) -> None:
    # SQLite changes a CHECK by copying the table; PostgreSQL may not (channel deliveries refer to notifications).
    name, condition = op.f("ck_notifications_type_known"), _one_of("type", values)
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(name, "notifications", type_="check")
        op.create_check_constraint(name, "notifications", condition)
        return
    with op.batch_alter_table("notifications", recreate="always") as batch_op:
        batch_op.drop_constraint(name, type_="check")
        batch_op.create_check_constraint(name, condition)


def upgrade() -> None:
    with op.batch_alter_table("contract_installments") as batch_op:
        for column in ANNOUNCED:
            batch_op.add_column(sa.Column(column, sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("documents") as batch_op:
        batch_op.add_column(sa.Column("contract_id", ID, nullable=True))
        batch_op.create_index("ix_documents_contract_id_id", ["contract_id", "id"])
        batch_op.create_foreign_key(
            op.f("fk_documents_contract_id_contracts"), "contracts", ["contract_id"], ["id"], ondelete="CASCADE"
        )
    _notification_types(NOTIFICATION_TYPES + NEW_NOTIFICATION_TYPES)


def downgrade() -> None:
    op.execute(sa.text(f"DELETE FROM notifications WHERE {_one_of('type', NEW_NOTIFICATION_TYPES)}"))
    _notification_types(NOTIFICATION_TYPES)
    op.execute(sa.text("DELETE FROM documents WHERE contract_id IS NOT NULL"))
    with op.batch_alter_table("documents") as batch_op:
        batch_op.drop_constraint(op.f("fk_documents_contract_id_contracts"), type_="foreignkey")
        batch_op.drop_index("ix_documents_contract_id_id")
        batch_op.drop_column("contract_id")
    with op.batch_alter_table("contract_installments") as batch_op:
        for column in reversed(ANNOUNCED):
            batch_op.drop_column(column)
