"""Customer revenue per order-date year and over all years, kept by triggers on orders

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out rather than imported: a migration stays as it was when written.
ALL_YEARS = 0
COMPLETED = "(5, 6)"  # shipped, paid

# One function for every change of an order: take the old row's share out, put the new row's in.
POSTGRESQL_FUNCTION = f"""
CREATE FUNCTION orders_keep_customer_revenue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status IN {COMPLETED} THEN
        UPDATE customer_revenue
           SET order_count = order_count - 1, revenue_cents = revenue_cents - round(OLD.total * 100)::bigint
         WHERE customer_id = OLD.customer_id
           AND year IN ({ALL_YEARS}, extract(year FROM OLD.order_date)::smallint);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status IN {COMPLETED} THEN
        INSERT INTO customer_revenue (customer_id, year, order_count, revenue_cents)
        VALUES (NEW.customer_id, {ALL_YEARS}, 1, round(NEW.total * 100)::bigint),
               (NEW.customer_id, extract(year FROM NEW.order_date)::smallint, 1, round(NEW.total * 100)::bigint)
        ON CONFLICT (customer_id, year) DO UPDATE
           SET order_count = customer_revenue.order_count + 1,
               revenue_cents = customer_revenue.revenue_cents + EXCLUDED.revenue_cents;
    END IF;
    RETURN NULL;
END
$$
"""
POSTGRESQL_TRIGGERS = (
    """CREATE TRIGGER orders_customer_revenue_insert_delete AFTER INSERT OR DELETE ON orders
       FOR EACH ROW EXECUTE FUNCTION orders_keep_customer_revenue()""",
    # A sync that rewrites an order unchanged (it does, to stamp synced_at) costs nothing.
    """CREATE TRIGGER orders_customer_revenue_update AFTER UPDATE ON orders FOR EACH ROW
       WHEN ((OLD.customer_id, OLD.status, OLD.total, OLD.order_date)
             IS DISTINCT FROM (NEW.customer_id, NEW.status, NEW.total, NEW.order_date))
       EXECUTE FUNCTION orders_keep_customer_revenue()""",
)


def _sqlite_take_out(row: str) -> str:
    return f"""UPDATE customer_revenue
           SET order_count = order_count - 1, revenue_cents = revenue_cents - CAST(round({row}.total * 100) AS INTEGER)
         WHERE {row}.status IN {COMPLETED} AND customer_id = {row}.customer_id
           AND year IN ({ALL_YEARS}, CAST(strftime('%Y', {row}.order_date) AS INTEGER));"""


def _sqlite_put_in(row: str) -> str:
    # The WHERE also settles SQLite's parsing ambiguity between a join's ON and the upsert's ON CONFLICT.
    return f"""INSERT INTO customer_revenue (customer_id, year, order_count, revenue_cents)
        SELECT {row}.customer_id, year, 1, CAST(round({row}.total * 100) AS INTEGER)
          FROM (SELECT {ALL_YEARS} AS year UNION ALL SELECT CAST(strftime('%Y', {row}.order_date) AS INTEGER))
         WHERE {row}.status IN {COMPLETED}
        ON CONFLICT (customer_id, year) DO UPDATE
           SET order_count = order_count + 1, revenue_cents = revenue_cents + excluded.revenue_cents;"""


SQLITE_TRIGGERS = (
    f"CREATE TRIGGER orders_customer_revenue_insert AFTER INSERT ON orders BEGIN {_sqlite_put_in('NEW')} END",
    f"CREATE TRIGGER orders_customer_revenue_delete AFTER DELETE ON orders BEGIN {_sqlite_take_out('OLD')} END",
    f"""CREATE TRIGGER orders_customer_revenue_update AFTER UPDATE OF customer_id, status, total, order_date ON orders
        BEGIN {_sqlite_take_out("OLD")} {_sqlite_put_in("NEW")} END""",
)
TRIGGER_NAMES = {
    "postgresql": ("orders_customer_revenue_insert_delete", "orders_customer_revenue_update"),
    "sqlite": ("orders_customer_revenue_insert", "orders_customer_revenue_delete", "orders_customer_revenue_update"),
}


def _backfill_sql(year_of_order: str) -> str:
    cents = "CAST(round(total * 100) AS BIGINT)"
    return f"""
        INSERT INTO customer_revenue (customer_id, year, order_count, revenue_cents)
        SELECT customer_id, {ALL_YEARS}, count(*), sum({cents}) FROM orders
         WHERE status IN {COMPLETED} GROUP BY customer_id
        UNION ALL
        SELECT customer_id, {year_of_order}, count(*), sum({cents}) FROM orders
         WHERE status IN {COMPLETED} GROUP BY customer_id, {year_of_order}"""


def upgrade() -> None:
    op.create_table(
        "customer_revenue",
        sa.Column("customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("order_count", sa.Integer(), nullable=False),
        sa.Column("revenue_cents", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_revenue_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", "year", name=op.f("pk_customer_revenue")),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(_backfill_sql("CAST(extract(year FROM order_date) AS SMALLINT)"))
        op.execute(POSTGRESQL_FUNCTION)
        for trigger in POSTGRESQL_TRIGGERS:
            op.execute(trigger)
    else:
        op.execute(_backfill_sql("CAST(strftime('%Y', order_date) AS INTEGER)"))
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)
    op.create_index("ix_customer_revenue_year_revenue_cents", "customer_revenue", ["year", "revenue_cents", "customer_id"])


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for trigger in TRIGGER_NAMES[dialect]:
        op.execute(f"DROP TRIGGER {trigger}" + (" ON orders" if dialect == "postgresql" else ""))
    if dialect == "postgresql":
        op.execute("DROP FUNCTION orders_keep_customer_revenue()")
    op.drop_index("ix_customer_revenue_year_revenue_cents", table_name="customer_revenue")
    op.drop_table("customer_revenue")
