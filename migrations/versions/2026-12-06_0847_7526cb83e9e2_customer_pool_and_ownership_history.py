"""Customer pool and ownership history: a customer without an owner is in the pool; every owner change is kept

Revision ID: 7526cb83e9e2
Revises: c1ce6e25c1e7
Create Date: 2026-12-06 08:47:14.715005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7526cb83e9e2"
down_revision: str | None = "c1ce6e25c1e7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "customer_ownership_changes",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("from_user_id", ID, nullable=True),
        sa.Column("to_user_id", ID, nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor_id", ID, nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "action IN ('create', 'claim', 'release', 'transfer')", name=op.f("ck_customer_ownership_changes_action_known")
        ),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_customer_ownership_changes_actor_id_users")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_ownership_changes_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["from_user_id"], ["users.id"], name=op.f("fk_customer_ownership_changes_from_user_id_users")),
        sa.ForeignKeyConstraint(["to_user_id"], ["users.id"], name=op.f("fk_customer_ownership_changes_to_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_ownership_changes")),
    )
    op.create_index("ix_customer_ownership_changes_customer_id_id", "customer_ownership_changes", ["customer_id", "id"])
    with op.batch_alter_table("customers") as batch_op:
        batch_op.alter_column("owner_id", existing_type=ID, nullable=True)


def downgrade() -> None:
    # Pool customers go back to whoever released them last, else to their creator; any left unowned fails the step.
    op.execute(
        """
        UPDATE customers SET owner_id = COALESCE(
            (SELECT h.from_user_id FROM customer_ownership_changes h
             WHERE h.customer_id = customers.id AND h.from_user_id IS NOT NULL ORDER BY h.id DESC LIMIT 1),
            created_by_id)
        WHERE owner_id IS NULL
        """
    )
    with op.batch_alter_table("customers") as batch_op:
        batch_op.alter_column("owner_id", existing_type=ID, nullable=False)
    op.drop_index("ix_customer_ownership_changes_customer_id_id", table_name="customer_ownership_changes")
    op.drop_table("customer_ownership_changes")
