"""Imports of customers, contacts, leads, opportunities and products: the import jobs, their row errors, and the
external_id an import upserts on where a record lacked it

Revision ID: d98185f2af53
Revises: 9004c7868ae7
Create Date: 2026-12-06 09:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d98185f2af53"
down_revision: str | None = "9004c7868ae7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EXTERNAL_ID_TABLES = ("contacts", "leads", "opportunities")
GIVEN = sa.text("external_id IS NOT NULL")


def upgrade() -> None:
    op.create_table(
        "imports",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("entity", sa.String(length=20), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("stored_path", sa.String(length=500), nullable=True),
        sa.Column("rows_total", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("rows_done", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("updated", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("failed", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("error", sa.String(length=2000), nullable=True),
        sa.Column("created_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed')", name=op.f("ck_imports_status_known")),
        sa.CheckConstraint(
            "entity IN ('customers', 'contacts', 'leads', 'opportunities', 'products')", name=op.f("ck_imports_entity_known")
        ),
        sa.CheckConstraint("mode IN ('all_or_nothing', 'valid_rows_only')", name=op.f("ck_imports_mode_known")),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_imports_created_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imports")),
    )
    op.create_index("ix_imports_status_id", "imports", ["status", "id"], unique=False)
    op.create_index("ix_imports_created_by_id_id", "imports", ["created_by_id", "id"], unique=False)
    op.create_table(
        "import_row_errors",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("import_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("row", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("column", sa.String(length=100), nullable=False),
        sa.Column("value", sa.String(length=500), nullable=True),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"], ["imports.id"], name=op.f("fk_import_row_errors_import_id_imports"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_row_errors")),
    )
    op.create_index("ix_import_row_errors_import_id_row", "import_row_errors", ["import_id", "row"], unique=False)
    for table in EXTERNAL_ID_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("external_id", sa.String(length=64), nullable=True))
        op.create_index(
            f"uq_{table}_external_id", table, ["external_id"], unique=True, sqlite_where=GIVEN, postgresql_where=GIVEN
        )


def downgrade() -> None:
    for table in EXTERNAL_ID_TABLES:
        op.drop_index(f"uq_{table}_external_id", table_name=table)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("external_id")
    op.drop_index("ix_import_row_errors_import_id_row", table_name="import_row_errors")
    op.drop_table("import_row_errors")
    op.drop_index("ix_imports_created_by_id_id", table_name="imports")
    op.drop_index("ix_imports_status_id", table_name="imports")
    op.drop_table("imports")
