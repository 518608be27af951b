"""Sales targets per person and team and month, and the indexes the quote-to-cash reports read through

Revision ID: 7c3e5a91d2f4
Revises: 72cbe566ab43
Create Date: 2026-12-06 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c3e5a91d2f4"
down_revision: str | None = "72cbe566ab43"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OPEN_INSTALLMENT = "collected < amount"


def upgrade() -> None:
    op.create_table(
        "sales_targets",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("user_id", ID, nullable=True),
        sa.Column("team_id", ID, nullable=True),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_sales_targets_amount_not_negative")),
        sa.CheckConstraint("(user_id IS NULL) <> (team_id IS NULL)", name=op.f("ck_sales_targets_one_holder")),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_sales_targets_team_id_teams"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_sales_targets_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_targets")),
        sa.UniqueConstraint("team_id", "month", name="uq_sales_targets_team_id_month"),
        sa.UniqueConstraint("user_id", "month", name="uq_sales_targets_user_id_month"),
    )
    op.create_index("ix_sales_targets_month", "sales_targets", ["month"])
    # Covering on PostgreSQL: the reports read these figures from the index alone.
    op.create_index("ix_contracts_sign_date", "contracts", ["sign_date"], postgresql_include=["status", "owner_id", "amount"])
    op.create_index(
        "ix_contract_receipts_received_on",
        "contract_receipts",
        ["received_on"],
        postgresql_include=["contract_id", "installment_id", "amount"],
    )
    op.create_index(
        "ix_contract_installments_open",
        "contract_installments",
        ["contract_id", "due_date"],
        sqlite_where=sa.text(OPEN_INSTALLMENT),
        postgresql_where=sa.text(OPEN_INSTALLMENT),
        postgresql_include=["amount", "collected"],
    )


def downgrade() -> None:
    op.drop_index("ix_contract_installments_open", table_name="contract_installments")
    op.drop_index("ix_contract_receipts_received_on", table_name="contract_receipts")
    op.drop_index("ix_contracts_sign_date", table_name="contracts")
    op.drop_index("ix_sales_targets_month", table_name="sales_targets")
    op.drop_table("sales_targets")
