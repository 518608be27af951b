"""A unique custom field under 20 real concurrent writers of the same value (PostgreSQL)."""

from tests.concurrency import audited, losers_codes, race, skip_unless_postgresql, statuses
from tests.custom_fields.factories import define_field
from tests.customers.factories import BASE as CUSTOMERS
from tests.customers.factories import make_customer


async def test_of_concurrent_creates_with_one_unique_value_exactly_one_is_written(app, client, actors, settings):
    skip_unless_postgresql(settings)
    admin, manager = await actors.make("admin"), await actors.make("account_manager")
    await define_field(client, admin, "customer", "erp_no", unique=True)

    def create(n: int):  # type: ignore[no-untyped-def]
        body = {"name": f"客户 {n}", "custom_fields": {"erp_no": "E-1"}}
        return client.post(CUSTOMERS, json=body, headers=manager.headers)

    responses = await race(create)
    assert statuses(responses) == {201: 1, 422: 19}
    assert losers_codes(responses, 201) == {"custom_field.invalid"}
    assert await audited(app, "customer", "create") == 1
    found = await client.get(CUSTOMERS, params={"cf.erp_no": "E-1"}, headers=manager.headers)
    assert len(found.json()["items"]) == 1


async def test_of_concurrent_updates_to_one_unique_value_exactly_one_is_written(app, client, actors, settings):
    skip_unless_postgresql(settings)
    admin, manager = await actors.make("admin"), await actors.make("account_manager")
    await define_field(client, admin, "customer", "erp_no", unique=True)
    customers = [await make_customer(client, manager, name=f"客户 {n}") for n in range(20)]

    def update(n: int):  # type: ignore[no-untyped-def]
        return client.patch(
            f"{CUSTOMERS}/{customers[n]['id']}", json={"custom_fields": {"erp_no": "E-1"}}, headers=manager.headers
        )

    responses = await race(update)
    assert statuses(responses) == {200: 1, 422: 19}
    found = await client.get(CUSTOMERS, params={"cf.erp_no": "E-1"}, headers=manager.headers)
    assert len(found.json()["items"]) == 1
