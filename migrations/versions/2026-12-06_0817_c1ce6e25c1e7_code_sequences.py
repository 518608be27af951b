"""Code sequences: on PostgreSQL each code series draws from a sequence, not a counter row every writer locks

Revision ID: c1ce6e25c1e7
Revises: af5997c71828
Create Date: 2026-12-06 08:17:33.419620
"""

from collections.abc import Sequence

from alembic import op

revision: str = "c1ce6e25c1e7"
down_revision: str | None = "af5997c71828"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The series of crm_api.core.codes.SERIES at this revision: customers, opportunities, service tickets.
SERIES = ("KH", "JH", "FW")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite serialises writers anyway and keeps the counter rows
    for series in SERIES:
        name = f"code_seq_{series.lower()}"
        op.execute(f"CREATE SEQUENCE {name} MINVALUE 1")
        # Continue after the codes already handed out.
        op.execute(f"SELECT setval('{name}', last_value) FROM code_counters WHERE series = '{series}' AND last_value > 0")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for series in SERIES:
        name = f"code_seq_{series.lower()}"
        op.execute(
            f"INSERT INTO code_counters (series, last_value) SELECT '{series}', last_value FROM {name} WHERE is_called "
            "ON CONFLICT (series) DO UPDATE SET last_value = excluded.last_value"
        )
        op.execute(f"DROP SEQUENCE {name}")
