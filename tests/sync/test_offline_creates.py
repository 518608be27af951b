"""Creates an offline app replays: the same client_id returns the first record, another body with it is a 409."""

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from crm_api.core.config import Settings
from tests.concurrency import race, skip_unless_postgresql, statuses
from tests.customers.factories import BASE, make_customer
from tests.factories import Actor, Actors, assert_problem
from tests.tasks.factories import BASE as TASKS

Place = Callable[[httpx.AsyncClient, Actor], Awaitable[tuple[str, dict[str, Any]]]]


async def _customers(client: httpx.AsyncClient, owner: Actor) -> tuple[str, dict[str, Any]]:
    return BASE, {"name": "杭州西湖茶业有限公司", "region": "zhejiang"}


async def _contacts(client: httpx.AsyncClient, owner: Actor) -> tuple[str, dict[str, Any]]:
    customer = await make_customer(client, owner)
    return f"{BASE}/{customer['id']}/contacts", {
        "name": "李娜",
        "gender": "female",
        "title": "采购",
        "office_phone": "0571-8888 1234",
    }


async def _interactions(client: httpx.AsyncClient, owner: Actor) -> tuple[str, dict[str, Any]]:
    customer = await make_customer(client, owner)
    body = {"occurred_on": "2026-06-01", "location": "客户门店", "summary": "外勤拜访", "details": "了解新品需求"}
    return f"{BASE}/{customer['id']}/interactions", body


async def _tasks(client: httpx.AsyncClient, owner: Actor) -> tuple[str, dict[str, Any]]:
    return TASKS, {"title": "回访报价", "due_at": "2026-06-20T02:00:00Z"}


PLACES: dict[str, Place] = {"customers": _customers, "contacts": _contacts, "interactions": _interactions, "tasks": _tasks}
# A field of each body to send otherwise with the same client_id.
TEXT_FIELDS = {"customers": "name", "contacts": "name", "interactions": "summary", "tasks": "title"}


async def _count(client: httpx.AsyncClient, owner: Actor, url: str) -> int:
    response = await client.get(url, params={"with_total": "true"}, headers=owner.headers)
    assert response.status_code == 200, response.text
    return int(response.json()["total"])


@pytest.mark.parametrize("kind", PLACES)
async def test_a_replayed_create_returns_the_first_record_and_another_body_is_409(
    client: httpx.AsyncClient, actors: Actors, kind: str
):
    owner = await actors.make("account_manager")
    url, body = await PLACES[kind](client, owner)
    offline = body | {"client_id": str(uuid.uuid4())}
    before = await _count(client, owner, url)

    first = await client.post(url, json=offline, headers=owner.headers)
    again = await client.post(url, json=offline, headers=owner.headers)

    assert first.status_code == 201, first.text
    assert again.status_code == 200, again.text
    assert again.json() == first.json() and first.json()["client_id"] == offline["client_id"]
    assert await _count(client, owner, url) == before + 1
    changed = offline | {TEXT_FIELDS[kind]: "另一条记录"}
    reused = await client.post(url, json=changed, headers=owner.headers)
    assert_problem(reused, 409, "client_id.reused")
    assert await _count(client, owner, url) == before + 1
    # Without a client_id every create is a new record; a customer's meets the duplicate guard (the replay did not).
    if kind == "customers":
        assert_problem(await client.post(url, json=body, headers=owner.headers), 409, "customer.duplicate")
    else:
        assert (await client.post(url, json=body, headers=owner.headers)).status_code == 201


async def test_the_same_client_id_from_two_people_makes_two_records(client: httpx.AsyncClient, actors: Actors):
    one, other = await actors.make("account_manager"), await actors.make("account_manager")
    client_id = str(uuid.uuid4())
    first = await client.post(BASE, json={"name": "一号客户", "client_id": client_id}, headers=one.headers)
    second = await client.post(BASE, json={"name": "二号客户", "client_id": client_id}, headers=other.headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]


async def test_a_contact_replayed_under_another_customer_is_409(client: httpx.AsyncClient, actors: Actors):
    owner = await actors.make("account_manager")
    url, body = await _contacts(client, owner)
    offline = body | {"client_id": str(uuid.uuid4())}
    assert (await client.post(url, json=offline, headers=owner.headers)).status_code == 201
    other = await make_customer(client, owner, name="另一家")
    assert_problem(
        await client.post(f"{BASE}/{other['id']}/contacts", json=offline, headers=owner.headers), 409, "client_id.reused"
    )


async def test_a_replay_of_a_customer_since_given_away_is_404(client: httpx.AsyncClient, actors: Actors):
    supervisor = await actors.make("sales_supervisor", team="east")
    owner, successor = await actors.make("account_manager", team="east"), await actors.make("account_manager", team="east")
    offline = {"name": "转走的客户", "client_id": str(uuid.uuid4())}
    customer = (await client.post(BASE, json=offline, headers=owner.headers)).json()
    transfer = await client.post(f"{BASE}/{customer['id']}/transfer", json={"owner_id": successor.id}, headers=supervisor.headers)
    assert transfer.status_code == 200
    assert_problem(await client.post(BASE, json=offline, headers=owner.headers), 404, "customer.not_found")


async def test_twenty_replays_at_once_make_one_record(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors, settings: Settings
):
    skip_unless_postgresql(settings)
    owner = await actors.make("account_manager")
    offline = {"name": "断网重发的客户", "client_id": str(uuid.uuid4())}

    responses = await race(lambda _: client.post(BASE, json=offline, headers=owner.headers))

    assert statuses(responses) == {201: 1, 200: len(responses) - 1}
    assert len({r.json()["id"] for r in responses}) == 1
    assert await _count(client, owner, BASE) == 1
