"""Pool locks, per-user claim limits, recycle rules and the duplicate guard's unique indexes (SPEC §3.12)

Customers already sharing a normalized name or an E.164 phone are kept as they are: every one but the oldest of each
such group is marked `legacy_duplicate` and stays outside the new unique indexes, listed by the duplicates report
until someone merges it. Nothing is deleted or renamed.

Revision ID: b96968d706b4
Revises: 598c36366de2
Create Date: 2026-12-06 09:42:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b96968d706b4"
down_revision: str | None = "598c36366de2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
GUARDED = "deleted_at IS NULL AND NOT legacy_duplicate"
OWNERSHIP_ACTIONS = ("create", "claim", "release", "transfer")
NEW_OWNERSHIP_ACTIONS = ("recycle", "merge", "lock", "unlock")
TASK_KINDS = ("manual", "follow_up")
NEW_TASK_KINDS = ("recycle_warning",)


def _one_of(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _replace_check(table: str, name: str, condition: str) -> None:
    with op.batch_alter_table(table, recreate="always") as batch_op:
        batch_op.drop_constraint(op.f(name), type_="check")
        batch_op.create_check_constraint(op.f(name), condition)


def _mark_legacy_duplicates() -> None:
    """Every live customer sharing a key with an older live one; then no two unmarked live customers share one."""
    customers = sa.table(
        "customers",
        sa.column("id", ID),
        sa.column("name_normalized", sa.String),
        sa.column("phone_e164", sa.String),
        sa.column("deleted_at", sa.DateTime),
        sa.column("legacy_duplicate", sa.Boolean),
    )
    older = customers.alias("older")
    for key in ("name_normalized", "phone_e164"):
        shared = sa.exists().where(older.c.deleted_at.is_(None), older.c.id < customers.c.id, older.c[key] == customers.c[key])
        op.execute(
            customers.update()
            .where(customers.c.deleted_at.is_(None), customers.c[key] != "", shared)
            .values(legacy_duplicate=sa.true())
        )


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch_op:
        batch_op.add_column(sa.Column("locked_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("legacy_duplicate", sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("pool_claim_limit", ID, nullable=True))
    op.create_table(
        "customer_recycle_rules",
        sa.Column("level", sa.String(length=100), nullable=False),
        sa.Column("no_interaction_days", ID, nullable=True),
        sa.Column("no_deal_days", ID, nullable=True),
        sa.Column("warning_days", ID, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", ID, nullable=True),
        sa.CheckConstraint("no_interaction_days > 0", name=op.f("ck_customer_recycle_rules_no_interaction_days_positive")),
        sa.CheckConstraint("no_deal_days > 0", name=op.f("ck_customer_recycle_rules_no_deal_days_positive")),
        sa.CheckConstraint("warning_days >= 0", name=op.f("ck_customer_recycle_rules_warning_days_not_negative")),
        sa.ForeignKeyConstraint(["updated_by_id"], ["users.id"], name=op.f("fk_customer_recycle_rules_updated_by_id_users")),
        sa.PrimaryKeyConstraint("level", name=op.f("pk_customer_recycle_rules")),
    )
    _replace_check(
        "customer_ownership_changes",
        "ck_customer_ownership_changes_action_known",
        _one_of("action", OWNERSHIP_ACTIONS + NEW_OWNERSHIP_ACTIONS),
    )
    _replace_check("tasks", "ck_tasks_kind_known", _one_of("kind", TASK_KINDS + NEW_TASK_KINDS))
    _mark_legacy_duplicates()
    op.create_index("ix_customers_email_lower", "customers", [sa.text("lower(email)")])
    for key, not_empty in (("name_normalized", "name_normalized <> ''"), ("phone_e164", "phone_e164 IS NOT NULL")):
        where = sa.text(f"{GUARDED} AND {not_empty}")
        op.create_index(f"uq_customers_{key}", "customers", [key], unique=True, sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    op.drop_index("ix_customers_email_lower", table_name="customers")
    op.drop_index("uq_customers_phone_e164", table_name="customers")
    op.drop_index("uq_customers_name_normalized", table_name="customers")
    # Rows of the new kinds and actions would break the old checks: the warnings go, the history keeps its moves
    # under the nearest old action.
    op.execute("DELETE FROM tasks WHERE kind = 'recycle_warning'")
    op.execute("UPDATE customer_ownership_changes SET action = 'release' WHERE action = 'recycle'")
    op.execute("UPDATE customer_ownership_changes SET action = 'transfer' WHERE action = 'merge'")
    op.execute("DELETE FROM customer_ownership_changes WHERE action IN ('lock', 'unlock')")
    _replace_check("tasks", "ck_tasks_kind_known", _one_of("kind", TASK_KINDS))
    _replace_check(
        "customer_ownership_changes", "ck_customer_ownership_changes_action_known", _one_of("action", OWNERSHIP_ACTIONS)
    )
    op.drop_table("customer_recycle_rules")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("pool_claim_limit")
    with op.batch_alter_table("customers") as batch_op:
        batch_op.drop_column("legacy_duplicate")
        batch_op.drop_column("locked_at")
