"""An offline update sent with a stale If-Match: 412 with the record as it is now, so the app can merge (§3.16)."""

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from crm_api.core.config import Settings
from tests.concurrency import RACERS, race, skip_unless_postgresql, statuses
from tests.customers.factories import BASE, make_contact, make_customer, make_interaction
from tests.factories import Actor, Actors, assert_problem
from tests.opportunities.factories import API as OPPORTUNITIES
from tests.opportunities.factories import create_opportunity
from tests.tasks.factories import BASE as TASKS
from tests.tasks.factories import create_task


async def _customer(client: httpx.AsyncClient, owner: Actor) -> tuple[str, dict[str, Any]]:
    return f"{BASE}/{(await make_customer(client, owner))['id']}", {"address": "新地址"}


async def _contact(client: httpx.AsyncClient, owner: Actor) -> tuple[str, dict[str, Any]]:
    customer = await make_customer(client, owner)
    contact = await make_contact(client, owner, customer["id"])
    return f"{BASE}/{customer['id']}/contacts/{contact['id']}", {"title": "总经理"}


async def _interaction(client: httpx.AsyncClient, owner: Actor) -> tuple[str, dict[str, Any]]:
    customer = await make_customer(client, owner)
    visit = await make_interaction(client, owner, customer["id"])
    return f"{BASE}/{customer['id']}/interactions/{visit['id']}", {"notes": "补充记录"}


async def _task(client: httpx.AsyncClient, owner: Actor) -> tuple[str, dict[str, Any]]:
    return f"{TASKS}/{(await create_task(client, owner))['id']}", {"notes": "改期"}


async def _opportunity(client: httpx.AsyncClient, owner: Actor) -> tuple[str, dict[str, Any]]:
    return f"{OPPORTUNITIES}/{(await create_opportunity(client, owner))['id']}", {"summary": "扩大采购"}


RECORDS: dict[str, Callable[[httpx.AsyncClient, Actor], Awaitable[tuple[str, dict[str, Any]]]]] = {
    "customer": _customer,
    "contact": _contact,
    "interaction": _interaction,
    "task": _task,
    "opportunity": _opportunity,
}


@pytest.mark.parametrize("kind", RECORDS)
async def test_a_stale_if_match_is_412_with_the_current_record(client: httpx.AsyncClient, actors: Actors, kind: str):
    owner = await actors.make("account_manager")
    url, change = await RECORDS[kind](client, owner)
    stale = (await client.get(url, headers=owner.headers)).headers["etag"]
    # Someone else's change while the phone was offline.
    first = await client.patch(url, json=change, headers=owner.headers | {"If-Match": stale})
    assert first.status_code == 200, first.text

    offline = await client.patch(
        url, json={k: f"{v}（离线）" for k, v in change.items()}, headers=owner.headers | {"If-Match": stale}
    )

    body = assert_problem(offline, 412, "precondition.etag_mismatch")
    now = await client.get(url, headers=owner.headers)
    assert body["current"] == now.json() == first.json()
    assert now.headers["etag"] == f'"{body["current"]["version"]}"' != stale
    # Merged onto `current` and sent with its version, the change goes through.
    merged = await client.patch(url, json=change, headers=owner.headers | {"If-Match": now.headers["etag"]})
    assert merged.status_code == 200, merged.text


async def test_of_twenty_offline_updates_with_one_version_each_loser_gets_the_winners_record(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors, settings: Settings
):
    skip_unless_postgresql(settings)
    owner = await actors.make("account_manager")
    url, _ = await _customer(client, owner)
    etag = (await client.get(url, headers=owner.headers)).headers["etag"]

    responses = await race(lambda n: client.patch(url, json={"address": f"地址{n}"}, headers=owner.headers | {"If-Match": etag}))

    assert statuses(responses) == {200: 1, 412: RACERS - 1}
    [winner] = [r.json() for r in responses if r.status_code == 200]
    assert all(r.json()["current"] == winner for r in responses if r.status_code == 412)


def test_the_contract_documents_the_current_record_of_a_412(app: FastAPI):
    schema = app.openapi()
    update = schema["paths"]["/api/v1/customers/{customer_id}"]["patch"]["responses"]["412"]
    assert update["content"]["application/problem+json"]["schema"]["$ref"].endswith("/StaleProblem")
    assert "current" in schema["components"]["schemas"]["StaleProblem"]["properties"]
