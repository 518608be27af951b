"""Each worker keeps the data dictionary and the custom field definitions, which every write checks against: a write
reads neither, and a change applies at once in the writer's process and within a second in another one (NOTIFY on
PostgreSQL, a short trust on SQLite), however it was written."""

from contextlib import AsyncExitStack

import httpx
from sqlalchemy import update

from crm_api.models.platform import DictionaryItem
from tests.customers.factories import BASE, company, make_customer
from tests.factories import assert_problem, count_statements
from tests.platform.test_deployment import crm
from tests.platform.test_idempotency_crash import _until

ANOTHER_PROCESS_SECONDS = 1.0
SQLITE_ALLOWANCE_SECONDS = 1.0
REFERENCE_TABLES = ("dictionary_items", "custom_field_definitions")


def _reads_reference_data(statements: list[str]) -> bool:
    return any(table in statement for statement in statements for table in REFERENCE_TABLES)


async def _region(client: httpx.AsyncClient, admin_headers: dict[str, str], value: str) -> None:
    added = await client.post(
        "/api/v1/dictionary", json={"category": "region", "label": value, "value": value}, headers=admin_headers
    )
    assert added.status_code == 201, added.text


async def test_a_new_customer_reads_the_dictionary_and_definitions_once(app, client, actors):
    admin = await actors.make("admin")
    manager = await actors.make("account_manager")
    defined = await client.post(
        "/api/v1/custom-fields/customer",
        json={"key": "sales_area", "label": "销售片区", "type": "text"},
        headers=admin.headers,
    )
    assert defined.status_code == 201, defined.text
    with count_statements(app.state.db.engine) as first:
        await make_customer(client, manager, custom_fields={"sales_area": "SA1"})

    async def from_the_cache() -> bool:
        with count_statements(app.state.db.engine) as statements:
            await make_customer(client, manager, custom_fields={"sales_area": "SA1"})
        return not _reads_reference_data(statements)

    assert _reads_reference_data(first)
    await _until(from_the_cache, 10, "a create to check against the worker's copy")


async def test_a_dictionary_change_applies_to_the_next_write_however_it_was_made(app, client, actors):
    admin = await actors.make("admin")
    manager = await actors.make("account_manager")
    await make_customer(client, manager, region="shanghai")  # the dictionary is now in the worker's copy
    assert_problem(await client.post(BASE, json=company(region="xizang"), headers=manager.headers), 422)

    await _region(client, admin.headers, "xizang")  # through the API
    await make_customer(client, manager, region="xizang")

    async with app.state.db.sessionmaker() as session, session.begin():  # a statement, as a script would
        await session.execute(update(DictionaryItem).where(DictionaryItem.value == "xizang").values(active=False))
    refused = assert_problem(
        await client.post(BASE, json=company(region="xizang"), headers=manager.headers), 422, "dictionary.unknown_value"
    )
    assert refused["errors"][0]["field"] == "region"


async def test_a_change_rolled_back_leaves_the_copy_as_it_was(app, client, actors):
    manager = await actors.make("account_manager")
    await make_customer(client, manager, region="shanghai")
    async with app.state.db.sessionmaker() as session:  # written, then rolled back
        session.add(DictionaryItem(category="region", label="西藏", value="xizang"))
        await session.flush()
        await session.rollback()
    assert_problem(await client.post(BASE, json=company(region="xizang"), headers=manager.headers), 422)
    await make_customer(client, manager, region="shanghai")


async def test_another_process_accepts_a_new_value_within_a_second(app, settings, client, actors, tmp_path):
    postgres = app.state.db.dialect == "postgresql"
    admin = await actors.make("admin")
    manager = await actors.make("account_manager")
    # On PostgreSQL B trusts its copy for ten minutes without a word: only the NOTIFY can make it follow in time.
    environment = {"CRM_REFERENCE_CACHE_SECONDS": "600"} if postgres else {}
    within = ANOTHER_PROCESS_SECONDS if postgres else ANOTHER_PROCESS_SECONDS + SQLITE_ALLOWANCE_SECONDS
    async with AsyncExitStack() as stack:
        b = await stack.enter_async_context(crm(settings, tmp_path, "serve", **environment))
        other = await stack.enter_async_context(httpx.AsyncClient(base_url=b.url, timeout=10))

        async def b_accepts(region: str, seconds: float) -> None:
            async def accepted() -> bool:
                return (await other.post(BASE, json=company(region=region), headers=manager.headers)).status_code == 201

            await _until(accepted, seconds, f"process B to accept the region {region}")

        if postgres:  # B listens from its start; a first change it follows proves it hears them
            assert (await other.post(BASE, json=company(region="probe"), headers=manager.headers)).status_code == 422
            await _region(client, admin.headers, "probe")
            await b_accepts("probe", 10)

        assert (await other.post(BASE, json=company(region="xizang"), headers=manager.headers)).status_code == 422
        await _region(client, admin.headers, "xizang")
        await b_accepts("xizang", within)
