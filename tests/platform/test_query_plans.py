from weakref import WeakKeyDictionary

import pytest
from sqlalchemy import text

from crm_api.core import pagination
from crm_api.core.pagination import PageParams
from crm_api.customers import service as customers_service
from crm_api.customers.schemas import CustomerFilters
from tests.conftest import _postgres_base_url
from tests.custom_fields.factories import define_field
from tests.factories import captured_statements
from tests.policy_matrix import principal_of


@pytest.mark.skipif(_postgres_base_url() is None, reason="plan caching is PostgreSQL's")
async def test_postgresql_plans_each_statement_for_its_values(session):
    # A cached generic plan ignores the search pattern and scans the customer table backwards by id.
    assert await session.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"


@pytest.mark.skipif(_postgres_base_url() is None, reason="JSONB and GIN indexes are PostgreSQL's")
async def test_a_custom_field_filter_reads_the_newest_matches_from_the_field_index(app, client, actors):
    """`?cf.<key>=value` of a text value is `custom_fields ->> '<key>' = value`, as the field's btree
    (`ix_cf_customers_<key>`: value, id) reads it: the newest matches in order, where the GIN index
    (ix_customers_custom_fields, jsonb_path_ops, for `@>`) found every match to be sorted."""
    admin = await actors.make("admin")
    await define_field(client, admin, "customer", "sales_area")
    with captured_statements(app.state.db.engine) as statements:
        response = await client.get("/api/v1/customers", params={"cf.sales_area": "SA7"}, headers=admin.headers)
    assert response.status_code == 200
    [(statement, parameters)] = [(s, p) for s, p in statements if "sales_area" in s]
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
    assert "ix_cf_customers_sales_area" in plan and "ix_customers_custom_fields" not in plan, plan


@pytest.mark.skipif(_postgres_base_url() is None, reason="trigram indexes and plans are PostgreSQL's")
async def test_a_search_walks_a_window_of_the_newest_customers_then_reads_older_matches_by_index(app, actors, monkeypatch):
    """Walking the customers newest first is the plan for a common term, and takes a second at a million customers
    for a rare one that the statistics mistake for common. The walk stops at the window's floor; a rare term's older
    matches are collected whole, not walked, and sorted."""
    monkeypatch.setattr(pagination, "_NEWEST_IDS", WeakKeyDictionary())  # the floor below this test's newest
    manager = await actors.make("account_manager")
    async with app.state.db.sessionmaker() as session, session.begin():
        principal = await principal_of(session, manager)
        # 20,000 customers, each a 贸易 company; the five oldest are also 华信's.
        await session.execute(
            text(
                """INSERT INTO customers (code, name, name_normalized, owner_id, status, custom_fields, version,
                                          created_at, updated_at)
                   SELECT 'P' || g, n, n, :owner, 'active', '{}', 1, now(), now()
                   FROM generate_series(1, 20000) AS g,
                        LATERAL (SELECT CASE WHEN g <= 5 THEN '华信' ELSE '远景' END || g || '号贸易有限公司' AS n) AS named"""
            ),
            {"owner": manager.id},
        )
        await session.execute(text("ANALYZE customers"))

        async def plans(term: str) -> tuple[list[str], list[str]]:
            with captured_statements(app.state.db.engine) as statements:
                page = await customers_service.list_customers(
                    session, principal, PageParams(limit=20), CustomerFilters(q=term), []
                )
            connection = await session.connection()
            explained = [
                "\n".join(row[0] for row in await connection.exec_driver_sql(f"EXPLAIN {statement}", parameters))
                for statement, parameters in statements
                if " LIKE " in statement.upper()
            ]
            return [item.name for item in page.items], explained

        names, [walk] = await plans("贸易")
        assert names == [f"远景{g}号贸易有限公司" for g in range(20000, 19980, -1)]
        assert "Index Scan Backward using pk_customers" in walk and "Index Cond: (id >" in walk, walk

        names, [walk, older] = await plans("华信")
        assert names == [f"华信{g}号贸易有限公司" for g in range(5, 0, -1)]
        assert "Index Cond: (id >" in walk, walk
        # Which index finds them is PostgreSQL's choice by the table's size (at 20,000 rows a scan of them all).
        assert "CTE matched" in older and "Index Scan Backward" not in older, older
        await session.rollback()
