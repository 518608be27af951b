"""PostgreSQL: a field's filter reads the field's own index, built once its definition has committed, and at start
where it is missing or a failed build left it invalid."""

from typing import Any

import pytest
from sqlalchemy import text

from crm_api.custom_fields.service import index_fields
from tests.conftest import _postgres_base_url
from tests.custom_fields.factories import define_field

INDEX = "ix_cf_customers_sales_area"
pytestmark = pytest.mark.skipif(_postgres_base_url() is None, reason="SQLite reads the custom fields' values as they are")


async def _index_state(app: Any) -> bool | None:
    """Whether the sales area's index is there and usable: None when absent, False when invalid."""
    query = "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = :name"
    async with app.state.db.engine.connect() as connection:
        found = await connection.scalar(text(query), {"name": INDEX})
    return None if found is None else bool(found)


async def _drop_index(app: Any) -> None:
    async with app.state.db.engine.connect() as connection:
        await connection.execute(text(f"DROP INDEX IF EXISTS {INDEX}"))
        await connection.commit()


async def test_a_new_field_is_indexed_and_its_filter_reads_the_index(app, client, actors):
    admin = await actors.make("admin")
    await _drop_index(app)  # an earlier test's definition of the same key left it
    await define_field(client, admin, "customer", "sales_area")
    assert await _index_state(app) is True

    for name, area in (("华东一公司", "SA1"), ("华东二公司", "SA1"), ("华南公司", "SA2")):
        body = {"name": name, "custom_fields": {"sales_area": area}}
        assert (await client.post("/api/v1/customers", json=body, headers=admin.headers)).status_code == 201
    listed = await client.get("/api/v1/customers", params={"cf.sales_area": "SA1"}, headers=admin.headers)
    assert [item["name"] for item in listed.json()["items"]] == ["华东二公司", "华东一公司"]
    # The plan over enough customers to tell: tests/platform/test_query_plans.py.


async def test_the_start_builds_the_index_a_field_lacks(app, client, actors):
    admin = await actors.make("admin")
    await define_field(client, admin, "customer", "sales_area")
    await _drop_index(app)
    assert await _index_state(app) is None

    await index_fields(app.state.db.engine)
    assert await _index_state(app) is True


async def test_the_start_builds_again_an_index_a_failed_build_left_invalid(app, client, actors):
    admin = await actors.make("admin")
    await define_field(client, admin, "customer", "sales_area")
    async with app.state.db.engine.connect() as connection:
        # What a CREATE INDEX CONCURRENTLY cut short leaves behind.
        await connection.execute(text(f"UPDATE pg_index SET indisvalid = false WHERE indexrelid = '{INDEX}'::regclass"))
        await connection.commit()
    assert await _index_state(app) is False

    await index_fields(app.state.db.engine)
    assert await _index_state(app) is True
