"""A search's pages: the newest customers walked first, the older ones read through the indexes (`Window`)."""

import base64
import json
from typing import Any
from weakref import WeakKeyDictionary

import pytest

from crm_api.core import pagination
from crm_api.core.pagination import Window
from crm_api.customers import service as customers_service
from tests.customers.factories import BASE, make_customer
from tests.factories import Actor, count_statements

POOL = "/api/v1/customer-pool"


@pytest.fixture
def window_of_three(monkeypatch: pytest.MonkeyPatch) -> Window:
    """A window of three customers, so a dozen make a search read on both sides of its floor; the newest id is read
    afresh (an earlier test's, kept for a minute, would place the floor elsewhere)."""
    window = Window(rows=3)
    monkeypatch.setattr(customers_service, "SEARCH_WINDOW", window)
    monkeypatch.setattr(pagination, "_NEWEST_IDS", WeakKeyDictionary())
    return window


async def _walk(client: Any, actor: Actor, *, path: str = BASE, **params: Any) -> list[str]:
    names: list[str] = []
    cursor = None
    while True:
        page_params = params | ({"cursor": cursor} if cursor else {})
        response = await client.get(path, params=page_params, headers=actor.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        names += [item["name"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return names


async def _dozen(client: Any, owner: Actor) -> list[str]:
    """Twelve customers, every third named 华信; their names, newest first."""
    names = [f"{'华信' if n % 3 == 0 else '远景'}{n}号贸易有限公司" for n in range(12)]
    for name in names:
        await make_customer(client, owner, name=name)
    return names[::-1]


async def test_a_search_pages_through_every_match_newest_first_on_both_sides_of_the_window(client, actors, window_of_three):
    manager = await actors.make("account_manager")
    newest_first = await _dozen(client, manager)
    matches = [name for name in newest_first if "华信" in name]

    for limit in (1, 2, 3, 100):
        assert await _walk(client, manager, q="华信", limit=limit) == matches
    assert await _walk(client, manager, q="贸易", limit=5) == newest_first
    assert await _walk(client, manager, q="没有", limit=5) == []
    # Another sort walks its own order, whatever the window.
    assert await _walk(client, manager, q="华信", limit=2, sort="name") == sorted(matches)
    response = await client.get(BASE, params={"q": "华信", "limit": 2, "with_total": "true"}, headers=manager.headers)
    assert response.json()["total"] == len(matches)


async def test_a_page_the_newest_customers_fill_is_one_statement(app, client, actors, window_of_three):
    manager = await actors.make("account_manager")
    await _dozen(client, manager)
    await client.get(BASE, params={"q": "贸易"}, headers=manager.headers)  # the newest id is known from here on

    async def searches(**params: Any) -> int:
        with count_statements(app.state.db.engine) as statements:
            response = await client.get(BASE, params=params, headers=manager.headers)
        assert response.status_code == 200, response.text
        return sum(" LIKE " in statement.upper() for statement in statements)

    # Every name holds 贸易: the three newest make a page of two and tell that there is a next.
    assert await searches(q="贸易", limit=2) == 1
    # One in three holds 华信: the walk finds one, the older ones give the rest.
    assert await searches(q="华信", limit=2) == 2


async def test_a_customer_added_after_the_newest_id_was_read_is_found_first(client, actors, window_of_three):
    manager = await actors.make("account_manager")
    newest_first = await _dozen(client, manager)
    assert await _walk(client, manager, q="贸易", limit=4) == newest_first

    added = [f"华信新{n}号贸易有限公司" for n in range(5)]
    for name in added:
        await make_customer(client, manager, name=name)

    assert await _walk(client, manager, q="贸易", limit=4) == added[::-1] + newest_first


async def test_a_cursor_at_the_lowest_id_there_is_gives_an_empty_page(client, actors):
    manager = await actors.make("account_manager")
    await make_customer(client, manager, name="华信贸易有限公司")
    # A crafted cursor: the search's own sort, after the lowest 64-bit id. Its window's floor would be lower still.
    cursor = base64.urlsafe_b64encode(json.dumps([None, -(2**63)]).encode()).decode()
    response = await client.get(BASE, params={"q": "华信", "cursor": cursor}, headers=manager.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"items": [], "next_cursor": None, "total": None}


async def test_a_term_is_matched_as_written_and_letters_in_either_case(client, actors):
    manager = await actors.make("account_manager")
    for name in ("五折%贸易有限公司", "甲_乙贸易有限公司", "甲某乙贸易有限公司", "丙/丁贸易有限公司", "ACME贸易有限公司"):
        await make_customer(client, manager, name=name)

    assert await _walk(client, manager, q="%") == ["五折%贸易有限公司"]
    assert await _walk(client, manager, q="甲_乙") == ["甲_乙贸易有限公司"]
    assert await _walk(client, manager, q="丙/丁") == ["丙/丁贸易有限公司"]
    assert await _walk(client, manager, q="acme") == ["ACME贸易有限公司"]
    assert await _walk(client, manager, q="cme贸易") == ["ACME贸易有限公司"]


async def test_a_whole_number_finds_its_customer_however_either_was_punctuated_and_a_fragment_as_typed(client, actors):
    manager = await actors.make("account_manager")
    await make_customer(client, manager, name="深圳恒信贸易有限公司", phone="(0755) 8888 1234")
    await make_customer(client, manager, name="深圳华信贸易有限公司", phone="0755-88881235")
    await make_customer(client, manager, name="深圳广信贸易有限公司", phone="13812345678")

    assert await _walk(client, manager, q="0755-88881234") == ["深圳恒信贸易有限公司"]
    assert await _walk(client, manager, q="+86 755 8888 1234") == ["深圳恒信贸易有限公司"]
    assert await _walk(client, manager, q="138-1234-5678") == ["深圳广信贸易有限公司"]
    assert await _walk(client, manager, q="8888") == ["深圳华信贸易有限公司", "深圳恒信贸易有限公司"]
    assert await _walk(client, manager, q="0755-8888123") == ["深圳华信贸易有限公司"]


async def test_a_search_of_the_pool_pages_through_the_window_too(client, actors, window_of_three):
    manager = await actors.make("account_manager")
    pooled_newest_first = []
    for name in await _dozen(client, manager):
        if "华信" in name:
            continue
        customer_id = (await client.get(BASE, params={"q": name}, headers=manager.headers)).json()["items"][0]["id"]
        released = await client.post(f"{BASE}/{customer_id}/release", json={"reason": "不再跟进"}, headers=manager.headers)
        assert released.status_code == 200, released.text
        pooled_newest_first.append(name)

    pool = await _walk(client, manager, path=POOL, q="贸易", limit=2)
    assert pool == pooled_newest_first
    assert await _walk(client, manager, path=POOL, q="华信", limit=2) == []
