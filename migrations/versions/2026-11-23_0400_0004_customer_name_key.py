"""Customers: the normalized name used to find duplicates

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 06:07:40.139755
"""

import re
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

customers = sa.table(
    "customers", sa.column("id", sa.BigInteger), sa.column("name", sa.String), sa.column("name_normalized", sa.String)
)


# The key as it was defined when this migration was written: a migration never follows later app code.
_CHINESE_LEGAL_FORM = re.compile("有限责任公司|股份有限公司|有限公司|集团|股份|公司")
_LATIN_LEGAL_FORM = re.compile(r"\b(?:co|ltd|limited|inc|incorporated|corp|corporation|company|group|llc|plc|gmbh)\b")
_NOT_WORD = re.compile(r"[\W_]+")


def normalize_company_name(name: str) -> str:
    key = _NOT_WORD.sub(" ", unicodedata.normalize("NFKC", name).casefold())
    key = _LATIN_LEGAL_FORM.sub(" ", _CHINESE_LEGAL_FORM.sub(" ", key))
    return key.replace(" ", "")


def upgrade() -> None:
    op.add_column("customers", sa.Column("name_normalized", sa.String(length=200), nullable=True))
    # The key is computed in Python (NFKC, legal forms): existing rows are backfilled here, in batches.
    connection = op.get_bind()
    rows = connection.execute(sa.select(customers.c.id, customers.c.name)).all()
    for start in range(0, len(rows), 1000):
        batch = [{"key": row.id, "value": normalize_company_name(row.name)} for row in rows[start : start + 1000]]
        connection.execute(
            customers.update().where(customers.c.id == sa.bindparam("key")).values(name_normalized=sa.bindparam("value")),
            batch,
        )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.alter_column("name_normalized", existing_type=sa.String(length=200), nullable=False)
        batch_op.create_index(batch_op.f("ix_customers_name_normalized"), ["name_normalized"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_name_normalized"))
        batch_op.drop_column("name_normalized")
