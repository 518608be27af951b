"""Mobile sync: the change log, client ids of offline creates, field-visit check-ins and photos

Revision ID: 452ba17bb0e2
Revises: d98185f2af53
Create Date: 2026-12-06 09:47:00
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision: str = "452ba17bb0e2"
down_revision: str | None = "d98185f2af53"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
CLIENT_CREATED = ("customers", "contacts", "interactions", "tasks")
CHECK_IN = {
    "checkin_latitude_range": "checkin_latitude BETWEEN -90 AND 90",
    "checkin_longitude_range": "checkin_longitude BETWEEN -180 AND 180",
    "checkin_accuracy_range": "checkin_accuracy_m >= 0",
    "checkin_complete": "(checkin_latitude IS NULL) = (checkin_longitude IS NULL) AND (checkin_latitude IS NULL) = "
    "(checkin_accuracy_m IS NULL) AND (checkin_latitude IS NULL) = (checked_in_at IS NULL)",
}
# The duplicate guard's indexes on customers (revision b96968d706b4).
GUARDED = "deleted_at IS NULL AND NOT legacy_duplicate"
GUARD_KEYS = (("name_normalized", "name_normalized <> ''"), ("phone_e164", "phone_e164 IS NOT NULL"))


@contextmanager
def _duplicate_guard_kept() -> Iterator[None]:
    """SQLite alters a table by copying it, and the copy leaves out the expression index its reflection skips: the
    duplicate guard's indexes are dropped before and made again after."""
    if op.get_bind().dialect.name != "sqlite":
        yield
        return
    op.drop_index("ix_customers_email_lower", table_name="customers")
    for key, _ in GUARD_KEYS:
        op.drop_index(f"uq_customers_{key}", table_name="customers")
    yield
    op.create_index("ix_customers_email_lower", "customers", [sa.text("lower(email)")])
    for key, not_empty in GUARD_KEYS:
        where = sa.text(f"{GUARDED} AND {not_empty}")
        op.create_index(f"uq_customers_{key}", "customers", [key], unique=True, sqlite_where=where)


def upgrade() -> None:
    op.create_table(
        "change_log",
        sa.Column("seq", ID, autoincrement=True, nullable=False),
        sa.Column("xid", sa.BigInteger(), nullable=False),
        sa.Column("entity_type", sa.String(length=50), nullable=False),
        sa.Column("entity_id", sa.BigInteger(), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_change_log")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_change_log_xid_seq", "change_log", ["xid", "seq"])
    op.create_index("ix_change_log_owner_id_xid_seq", "change_log", ["owner_id", "xid", "seq"])
    op.create_table(
        "change_log_pruned",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("xid", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("pruned_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_log_pruned")),
    )

    with op.batch_alter_table("contacts") as batch_op:
        batch_op.add_column(sa.Column("created_by_id", ID, nullable=True))
        batch_op.create_foreign_key(op.f("fk_contacts_created_by_id_users"), "users", ["created_by_id"], ["id"])
    with _duplicate_guard_kept():
        for table in CLIENT_CREATED:
            with op.batch_alter_table(table) as batch_op:
                batch_op.add_column(sa.Column("client_id", sa.Uuid(), nullable=True))
                batch_op.add_column(sa.Column("client_digest", sa.String(length=64), nullable=True))
                batch_op.create_unique_constraint(op.f(f"uq_{table}_created_by_id_client_id"), ["created_by_id", "client_id"])

    with op.batch_alter_table("interactions") as batch_op:
        batch_op.add_column(sa.Column("checkin_latitude", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("checkin_longitude", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("checkin_accuracy_m", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=True))
        for name, condition in CHECK_IN.items():
            batch_op.create_check_constraint(op.f(f"ck_interactions_{name}"), condition)

    with op.batch_alter_table("documents") as batch_op:
        batch_op.add_column(sa.Column("interaction_id", ID, nullable=True))
        batch_op.create_index("ix_documents_interaction_id_id", ["interaction_id", "id"])
        batch_op.create_foreign_key(
            op.f("fk_documents_interaction_id_interactions"), "interactions", ["interaction_id"], ["id"], ondelete="CASCADE"
        )


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch_op:
        batch_op.drop_constraint(op.f("fk_documents_interaction_id_interactions"), type_="foreignkey")
        batch_op.drop_index("ix_documents_interaction_id_id")
        batch_op.drop_column("interaction_id")
    with op.batch_alter_table("interactions") as batch_op:
        for name in CHECK_IN:
            batch_op.drop_constraint(op.f(f"ck_interactions_{name}"), type_="check")
        for column in ("checked_in_at", "checkin_accuracy_m", "checkin_longitude", "checkin_latitude"):
            batch_op.drop_column(column)
    with _duplicate_guard_kept():
        for table in CLIENT_CREATED:
            with op.batch_alter_table(table) as batch_op:
                batch_op.drop_constraint(op.f(f"uq_{table}_created_by_id_client_id"), type_="unique")
                batch_op.drop_column("client_digest")
                batch_op.drop_column("client_id")
    with op.batch_alter_table("contacts") as batch_op:
        batch_op.drop_constraint(op.f("fk_contacts_created_by_id_users"), type_="foreignkey")
        batch_op.drop_column("created_by_id")
    op.drop_table("change_log_pruned")
    op.drop_index("ix_change_log_owner_id_xid_seq", table_name="change_log")
    op.drop_index("ix_change_log_xid_seq", table_name="change_log")
    op.drop_table("change_log")
