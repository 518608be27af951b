"""Trigram indexes for substring search on customer name, code and phone (PostgreSQL only)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 06:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out rather than imported from the models: a migration stays as it was when written.
TRIGRAM_INDEXES = {
    "ix_customers_name_trgm": "name",
    "ix_customers_code_trgm": "code",
    "ix_customers_phone_trgm": "phone",
    "ix_customers_phone_e164_trgm": "phone_e164",
}


def _on_postgresql() -> bool:
    # SQLite has no trigram index; `LIKE '%q%'` scans there, which is fine at its scale.
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if not _on_postgresql():
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    # CONCURRENTLY outside the migration's transaction: a live customer table keeps taking writes.
    with op.get_context().autocommit_block():
        for name, column in TRIGRAM_INDEXES.items():
            op.create_index(
                name,
                "customers",
                [column],
                postgresql_using="gin",
                postgresql_ops={column: "gin_trgm_ops"},
                postgresql_concurrently=True,
                if_not_exists=True,
            )


def downgrade() -> None:
    if not _on_postgresql():
        return
    with op.get_context().autocommit_block():
        for name in TRIGRAM_INDEXES:
            op.drop_index(name, table_name="customers", postgresql_concurrently=True, if_exists=True)
    # pg_trgm stays: other search indexes may rely on it, and an unused extension costs nothing.
