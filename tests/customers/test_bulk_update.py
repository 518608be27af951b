"""Bulk update of level, tags and owner: every listed customer or none."""

import pytest

from tests.customers.factories import BASE, audit_of, churn, make_customer, two_managers
from tests.factories import assert_problem

URL = f"{BASE}/bulk-update"


def bulk(client, actor, ids, **changes):
    return client.post(URL, json={"ids": ids, "set": changes}, headers=actor.headers)


async def state_of(client, actor, customer_id):
    response = await client.get(f"{BASE}/{customer_id}", headers=actor.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    return body["level"], body["tags"], body["owner_id"]


async def test_anonymous_401_wrong_role_403(client, actors):
    marketer = await actors.make("marketer")
    assert_problem(await client.post(URL, json={"ids": [1], "set": {"level": "major"}}), 401)
    assert_problem(await bulk(client, marketer, [1], level="major"), 403, "auth.missing_permission")


async def test_level_and_tags_change_on_every_customer_with_one_audit_each(client, actors):
    manager = await actors.make("account_manager")
    admin = await actors.make("admin")
    first = await make_customer(client, manager, level="regular", tags=["旧", "华东"])
    second = await make_customer(client, manager, level="major", tags=[])
    response = await bulk(client, manager, [first["id"], second["id"]], level="partner", tags_add=["VIP"], tags_remove=["旧"])
    assert response.status_code == 200, response.text
    assert response.json() == {"updated": [first["id"], second["id"]]}
    assert await state_of(client, manager, first["id"]) == ("partner", ["VIP", "华东"], manager.id)
    assert await state_of(client, manager, second["id"]) == ("partner", ["VIP"], manager.id)
    event = (await audit_of(client, admin, "customer", first["id"]))[-1]
    assert event["action"] == "bulk_update"
    assert event["changes"]["level"] == {"before": "regular", "after": "partner"}
    assert event["changes"]["tags"] == {"before": ["华东", "旧"], "after": ["VIP", "华东"]}


async def test_one_customer_outside_scope_is_404_naming_it_and_nothing_changes(client, actors):
    a, b = await two_managers(actors)
    mine = await make_customer(client, a, level="regular")
    theirs = await make_customer(client, b, level="regular")
    problem = assert_problem(await bulk(client, a, [mine["id"], theirs["id"], 999_999], level="major"), 404, "customer.not_found")
    assert problem["ids"] == [theirs["id"], 999_999]
    assert (await state_of(client, a, mine["id"]))[0] == "regular"


async def test_one_churned_customer_is_409_naming_it_and_nothing_changes(app, client, actors):
    manager = await actors.make("account_manager")
    active = await make_customer(client, manager, tags=[])
    churned = await make_customer(client, manager)
    await churn(app, churned["id"])
    problem = assert_problem(
        await bulk(client, manager, [active["id"], churned["id"]], tags_add=["VIP"]), 409, "customer.not_active"
    )
    assert problem["ids"] == [churned["id"]]
    assert (await state_of(client, manager, active["id"]))[1] == []


@pytest.mark.parametrize(
    "body",
    [
        {"ids": [], "set": {"level": "major"}},
        {"ids": list(range(1, 502)), "set": {"level": "major"}},
        {"ids": [1], "set": {}},
        {"ids": [1], "set": {"tags_add": ["A"], "tags_remove": ["A"]}},
        {"ids": [1], "set": {"status": "churned"}},
    ],
)
async def test_bad_bodies_are_422(client, actors, body):
    manager = await actors.make("account_manager")
    assert_problem(await client.post(URL, json=body, headers=manager.headers), 422, "validation_failed")


async def test_unknown_level_is_422_and_nothing_changes(client, actors):
    manager = await actors.make("account_manager")
    customer = await make_customer(client, manager, level="regular")
    assert_problem(await bulk(client, manager, [customer["id"]], level="atlantis"), 422, "dictionary.unknown_value")
    assert (await state_of(client, manager, customer["id"]))[0] == "regular"


async def test_owner_change_needs_customers_transfer(client, actors):
    a, b = await two_managers(actors)
    customer = await make_customer(client, a)
    assert_problem(await bulk(client, a, [customer["id"]], owner_id=b.id), 403, "auth.missing_permission")
    assert (await state_of(client, a, customer["id"]))[2] == a.id


async def test_a_supervisor_transfers_only_within_the_team(client, actors):
    a, b = await two_managers(actors)
    supervisor = await actors.make("sales_supervisor", team="east")
    west = await actors.make("account_manager", team="west")
    first, second = await make_customer(client, a), await make_customer(client, b)
    assert_problem(
        await bulk(client, supervisor, [first["id"], second["id"]], owner_id=west.id), 422, "customer.owner_outside_team"
    )
    response = await bulk(client, supervisor, [first["id"], second["id"]], owner_id=b.id)
    assert response.status_code == 200, response.text
    assert (await state_of(client, supervisor, first["id"]))[2] == b.id
    assert (await state_of(client, supervisor, second["id"]))[2] == b.id
    west_customer = await make_customer(client, west)
    assert_problem(await bulk(client, supervisor, [first["id"], west_customer["id"]], owner_id=a.id), 404, "customer.not_found")
