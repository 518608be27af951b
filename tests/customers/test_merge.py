"""Merging a duplicate customer into another."""

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from crm_api.customers.repository import customer_references
from crm_api.models.customer import Contact, CustomerTag, Interaction
from crm_api.models.sales import ALL_YEARS, CustomerRevenue, Order
from tests.customers.factories import (
    BASE,
    audit_of,
    churn,
    make_contact,
    make_customer,
    make_interaction,
    two_managers,
)
from tests.factories import assert_problem


async def add_order(app, customer_id: int, number: str) -> None:
    async with app.state.db.sessionmaker() as session, session.begin():
        session.add(
            Order(
                external_id=number,
                number=number,
                customer_id=customer_id,
                order_date=date(2026, 5, 1),
                status=5,
                total=Decimal("10.00"),
            )
        )


async def count_of(app, model, customer_id: int) -> int:
    async with app.state.db.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(model).where(model.customer_id == customer_id))


async def revenue_of(app, customer_id: int) -> list[tuple[int, int, int]]:
    async with app.state.db.sessionmaker() as session:
        rows = await session.execute(
            select(CustomerRevenue.year, CustomerRevenue.order_count, CustomerRevenue.revenue_cents)
            .where(CustomerRevenue.customer_id == customer_id)
            .order_by(CustomerRevenue.year)
        )
        return [tuple(row) for row in rows]


def merge(client, actor, survivor_id: int, loser_id: int):
    return client.post(f"{BASE}/{survivor_id}/merge", json={"loser_id": loser_id}, headers=actor.headers)


def test_every_table_referring_to_customers_is_covered():
    tables = {column.table.name for column in customer_references()}
    assert {"contacts", "interactions", "orders", "customer_tags"} <= tables
    assert "customers" not in tables
    assert "customer_revenue" not in tables  # it follows the orders


async def test_guarded_401_403_404(client, actors):
    a, b = await two_managers(actors)
    marketer = await actors.make("marketer")
    mine = await make_customer(client, a)
    theirs = await make_customer(client, b, name="上海华信科技 (Co., Ltd.)")
    assert_problem(await client.post(f"{BASE}/{mine['id']}/merge", json={"loser_id": theirs["id"]}), 401)
    assert_problem(await merge(client, marketer, mine["id"], theirs["id"]), 403, "auth.missing_permission")
    assert_problem(await merge(client, a, mine["id"], theirs["id"]), 404, "customer.not_found")
    assert_problem(await merge(client, a, theirs["id"], mine["id"]), 404, "customer.not_found")
    assert_problem(await merge(client, a, mine["id"], 999_999), 404, "customer.not_found")
    assert (await client.get(f"{BASE}/{theirs['id']}", headers=b.headers)).status_code == 200


async def test_merge_moves_everything_joins_tags_and_deletes_the_loser(app, client, actors):
    manager = await actors.make("account_manager")
    admin = await actors.make("admin")
    survivor = await make_customer(client, manager, tags=["VIP"])
    loser = await make_customer(client, manager, name="上海华信科技 (Co., Ltd.)", tags=["VIP", "华东"])
    for _ in range(2):
        await make_contact(client, manager, loser["id"])
    await make_interaction(client, manager, loser["id"])
    await make_contact(client, manager, survivor["id"])
    await add_order(app, loser["id"], "SO-1")

    response = await merge(client, manager, survivor["id"], loser["id"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["moved"] == {"contacts": 2, "interactions": 1, "orders": 1, "customer_tags": 1}
    assert body["survivor"]["tags"] == ["VIP", "华东"]
    assert await count_of(app, Contact, survivor["id"]) == 3
    assert await count_of(app, Interaction, survivor["id"]) == 1
    assert await count_of(app, Order, survivor["id"]) == 1
    assert await count_of(app, Contact, loser["id"]) == 0
    # The revenue follows the orders once, not again as a table of its own.
    assert await revenue_of(app, survivor["id"]) == [(ALL_YEARS, 1, 1000), (2026, 1, 1000)]
    assert await revenue_of(app, loser["id"]) == [(ALL_YEARS, 0, 0), (2026, 0, 0)]
    assert_problem(await client.get(f"{BASE}/{loser['id']}", headers=manager.headers), 404, "customer.not_found")
    deleted = await client.get(BASE, params={"deleted": "true"}, headers=manager.headers)
    assert [c["id"] for c in deleted.json()["items"]] == [loser["id"]]

    survivor_event = (await audit_of(client, admin, "customer", survivor["id"]))[-1]
    loser_event = (await audit_of(client, admin, "customer", loser["id"]))[-1]
    assert survivor_event["action"] == loser_event["action"] == "merge"
    assert survivor_event["changes"]["merged_from"]["after"] == loser["id"]
    assert survivor_event["changes"]["moved"]["after"]["contacts"] == 2
    assert survivor_event["changes"]["tags"] == {"before": ["VIP"], "after": ["VIP", "华东"]}
    assert loser_event["changes"]["merged_into"]["after"] == survivor["id"]
    assert loser_event["changes"]["deleted_at"]["before"] is None


async def test_a_supervisor_merges_within_the_team(client, actors):
    a, b = await two_managers(actors)
    supervisor = await actors.make("sales_supervisor", team="east")
    mine = await make_customer(client, a)
    theirs = await make_customer(client, b)
    response = await merge(client, supervisor, mine["id"], theirs["id"])
    assert response.status_code == 200, response.text
    assert response.json()["survivor"]["owner_id"] == a.id


async def test_same_id_and_churned_customers_are_refused_and_nothing_moves(app, client, actors):
    manager = await actors.make("account_manager")
    survivor = await make_customer(client, manager)
    loser = await make_customer(client, manager)
    await make_contact(client, manager, loser["id"])
    assert_problem(await merge(client, manager, survivor["id"], survivor["id"]), 409, "customer.merge_same")
    await churn(app, loser["id"])
    assert_problem(await merge(client, manager, survivor["id"], loser["id"]), 409, "customer.not_active")
    assert_problem(await merge(client, manager, loser["id"], survivor["id"]), 409, "customer.not_active")
    assert await count_of(app, Contact, loser["id"]) == 1
    assert (await client.get(f"{BASE}/{loser['id']}", headers=manager.headers)).status_code == 200


async def test_bad_body_is_422(client, actors):
    manager = await actors.make("account_manager")
    survivor = await make_customer(client, manager)
    response = await client.post(f"{BASE}/{survivor['id']}/merge", json={"loser_id": "x"}, headers=manager.headers)
    assert_problem(response, 422, "validation_failed")


async def test_shared_tags_stay_once_on_the_survivor(app, client, actors):
    manager = await actors.make("account_manager")
    survivor = await make_customer(client, manager, tags=["VIP", "华东"])
    loser = await make_customer(client, manager, tags=["VIP", "华东"])
    response = await merge(client, manager, survivor["id"], loser["id"])
    assert response.json()["moved"] == {}
    assert await count_of(app, CustomerTag, survivor["id"]) == 2
