"""Custom field definitions; a custom_fields document on contacts, leads, opportunities and tickets; JSONB and a GIN
index for the customers' on PostgreSQL

Revision ID: 2698b69cd5fe
Revises: b96968d706b4
Create Date: 2026-12-06 09:42:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "2698b69cd5fe"
down_revision: str | None = "b96968d706b4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
# Tables that gain a custom_fields document (customers had an untyped one since the foundation).
NEW_DOCUMENTS = ("contacts", "leads", "opportunities", "service_tickets")


def upgrade() -> None:
    op.create_table(
        "custom_field_definitions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=50), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("dictionary_category", sa.String(length=50), nullable=True),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("unique_among_live", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("sort_order", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "entity IN ('customer', 'contact', 'lead', 'opportunity', 'ticket')",
            name=op.f("ck_custom_field_definitions_entity_known"),
        ),
        sa.CheckConstraint(
            "type IN ('text', 'number', 'decimal', 'date', 'boolean', 'choice', 'multi_choice')",
            name=op.f("ck_custom_field_definitions_type_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_field_definitions")),
        sa.UniqueConstraint("entity", "key", name=op.f("uq_custom_field_definitions_entity_key")),
    )
    for table in NEW_DOCUMENTS:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("custom_fields", DOCUMENT, nullable=False, server_default=sa.text("'{}'")))
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("customers", "custom_fields", type_=postgresql.JSONB(), postgresql_using="custom_fields::jsonb")
        op.create_index(
            "ix_customers_custom_fields",
            "customers",
            ["custom_fields"],
            postgresql_using="gin",
            postgresql_ops={"custom_fields": "jsonb_path_ops"},
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_customers_custom_fields", table_name="customers")
        op.alter_column("customers", "custom_fields", type_=sa.JSON(), postgresql_using="custom_fields::json")
    for table in NEW_DOCUMENTS:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("custom_fields")
    op.drop_table("custom_field_definitions")
