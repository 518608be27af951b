"""On PostgreSQL a change may commit after a later one: no page, and no token, may pass it by."""

import asyncio

import httpx
from fastapi import FastAPI

from crm_api.core.config import Settings
from crm_api.customers import service as customers
from crm_api.customers.schemas import CustomerUpdate
from tests.concurrency import RACERS, race, skip_unless_postgresql
from tests.customers.factories import BASE, make_customer
from tests.factories import Actors
from tests.policy_matrix import principal_of
from tests.sync.factories import Device


async def test_a_change_held_open_while_a_client_pages_arrives_once_it_commits(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors, settings: Settings
):
    skip_unless_postgresql(settings)
    manager = await actors.make("account_manager")
    made = [await make_customer(client, manager, name=f"客户{n}") for n in range(6)]
    first, last = made[0]["id"], made[-1]["id"]
    device = Device(manager, types="customers")
    await device.page(client, limit=2)  # the snapshot has begun

    async with app.state.db.sessionmaker() as held, held.begin():
        principal = await principal_of(held, manager)
        # This writer's change is logged first, and commits last.
        await customers.update_customer(held, principal, first, CustomerUpdate(address="慢的那笔"))
        response = await client.patch(f"{BASE}/{last}", json={"address": "快的那笔"}, headers=manager.headers)
        assert response.status_code == 200, response.text
        # The client pages to the end of the snapshot and past it while the first is open: the later change waits
        # behind it, and the page says so.
        waiting = await device.until_waiting(client, limit=2)
        assert waiting["more"] is True
        assert device.records["customers"][first]["address"] is None
        # Committed now.
    await device.sync(client, limit=2)

    assert device.records["customers"][first]["address"] == "慢的那笔"
    assert device.records["customers"][last]["address"] == "快的那笔"


async def test_twenty_writers_while_a_client_pages_leave_it_with_what_was_committed(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors, settings: Settings
):
    skip_unless_postgresql(settings)
    manager = await actors.make("account_manager")
    made = [await make_customer(client, manager, name=f"客户{n}") for n in range(RACERS)]
    device = Device(manager, types="customers")
    await device.sync(client, limit=5)
    writing = asyncio.ensure_future(
        race(lambda n: client.patch(f"{BASE}/{made[n]['id']}", json={"address": f"地址{n}"}, headers=manager.headers))
    )
    while not writing.done():  # page while they write
        await device.page(client, limit=3)
    assert all(response.status_code == 200 for response in await writing)
    await device.sync(client, limit=3)

    assert {i: c["address"] for i, c in device.records["customers"].items()} == {c["id"]: f"地址{n}" for n, c in enumerate(made)}
