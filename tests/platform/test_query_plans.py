import pytest
from sqlalchemy import text

from tests.conftest import _postgres_base_url
from tests.custom_fields.factories import define_field
from tests.factories import captured_statements


@pytest.mark.skipif(_postgres_base_url() is None, reason="plan caching is PostgreSQL's")
async def test_postgresql_plans_each_statement_for_its_values(session):
    # A cached generic plan ignores the search pattern and scans the customer table backwards by id.
    assert await session.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"


@pytest.mark.skipif(_postgres_base_url() is None, reason="JSONB and GIN indexes are PostgreSQL's")
async def test_a_custom_field_filter_is_answered_by_the_gin_index(app, client, actors):
    """`?cf.<key>=value` is `custom_fields @> '{"<key>": value}'`, which ix_customers_custom_fields (jsonb_path_ops)
    answers instead of a scan of every customer."""
    admin = await actors.make("admin")
    await define_field(client, admin, "customer", "sales_area")
    with captured_statements(app.state.db.engine) as statements:
        response = await client.get("/api/v1/customers", params={"cf.sales_area": "SA7"}, headers=admin.headers)
    assert response.status_code == 200
    [(statement, parameters)] = [(s, p) for s, p in statements if "@>" in s]
    # The plan over 20,000 customers (1,000 areas), in a transaction rolled back: no other test sees them.
    async with app.state.db.engine.connect() as connection, connection.begin() as transaction:
        await connection.exec_driver_sql(
            """INSERT INTO customers (code, name, name_normalized, owner_id, status, custom_fields, version,
                                      created_at, updated_at)
               SELECT 'P' || g, 'Customer ' || g, 'customer ' || g, $1, 'active',
                      jsonb_build_object('sales_area', 'SA' || (g % 1000)), 1, now(), now()
               FROM generate_series(1, 20000) AS g""",
            (admin.id,),
        )
        await connection.exec_driver_sql("ANALYZE customers")
        plan = "\n".join(row[0] for row in await connection.exec_driver_sql(f"EXPLAIN {statement}", parameters))
        await transaction.rollback()
    assert "ix_customers_custom_fields" in plan, plan
