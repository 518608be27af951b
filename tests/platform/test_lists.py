"""Every list of records, walked through HTTP over the demo data: each sort both ways, `updated_since`, and the 422s
an integrator gets for a parameter the list does not know."""

import gc
import math
import re
from collections import Counter
from datetime import timedelta, timezone
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import func, select

from crm_api.core import pagination
from crm_api.core.clock import clock
from crm_api.demo import seed_demo
from crm_api.main import API_PREFIX, DOMAIN_ROUTERS
from crm_api.models import Base
from tests.factories import assert_problem

ROUTES = [route for router in DOMAIN_ROUTERS for route in router.routes if isinstance(route, APIRoute)]


def _sort_values(route: APIRoute) -> list[str] | None:
    """The `sort` enum of a list of records, None for an operation that is not one."""
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        stack.extend(dependant.dependencies)
        for field in dependant.query_params:
            if field.alias == "sort":
                enum = next(arg for arg in field.field_info.annotation.__args__ if arg is not type(None))
                return [member.value for member in enum]
    return None


LISTS = [route for route in ROUTES if "GET" in route.methods and _sort_values(route)]


def _id(route: APIRoute) -> str:
    return f"{sorted(route.methods)[0]} {route.path}"


# Path parameters that are not ids: a value each list answers for.
PATH_VALUES = {"entity": "customer"}


def _url(route: APIRoute, ids: dict[str, Any] | None = None) -> str:
    names = re.findall(r"\{(\w+)\}", route.path)
    return API_PREFIX + route.path.format(**(ids or {name: PATH_VALUES.get(name, 1) for name in names}))


def test_every_list_of_records_offers_sorts():
    # The lists without `sort` are computed (duplicate pairs, report rows), not records that change.
    unsorted = {route.path for route in ROUTES if "GET" in route.methods and "cursor" in _query(route) and route not in LISTS}
    assert unsorted == {"/customers/duplicates", "/reports/customer-contribution", "/reports/churn"}
    assert len(LISTS) >= 30


def _query(route: APIRoute) -> set[str]:
    names, stack = set(), [route.dependant]
    while stack:
        dependant = stack.pop()
        stack.extend(dependant.dependencies)
        names |= {field.alias for field in dependant.query_params}
    return names


@pytest.fixture
async def demo(app: FastAPI, frozen_clock, actors) -> dict[str, Any]:
    """The demo data, all of it created and changed at the same instant (every sort key of time ties), and an admin."""
    async with app.state.db.sessionmaker() as session, session.begin():
        await seed_demo(session)
    admin = await actors.make("admin")
    return {"headers": admin.headers, "seeded_at": frozen_clock}


# A path parameter whose rows other tables name by another column; the table of a nested parent's rows.
COLUMN_OF = {"webhook_id": "subscription_id"}
TABLE_OF = {"contact_id": "contacts", "interaction_id": "interactions"}


async def _parent_ids(app: FastAPI, path: str) -> dict[str, int]:
    """For each `{x_id}` of the path, innermost first, the id that most rows of other tables point at (the parent with
    most children), or the one its chosen child belongs to."""
    ids: dict[str, Any] = {}
    async with app.state.db.sessionmaker() as session:
        for name in reversed(re.findall(r"\{(\w+)\}", path)):
            if name in PATH_VALUES:
                ids[name] = PATH_VALUES[name]
                continue
            column = COLUMN_OF.get(name, name)
            child = next(
                (child for child in ids if child in TABLE_OF and column in Base.metadata.tables[TABLE_OF[child]].c), None
            )
            if child is not None:
                table = Base.metadata.tables[TABLE_OF[child]]
                ids[name] = await session.scalar(select(table.c[column]).where(table.c.id == ids[child]))
                continue
            counts: Counter[int] = Counter()
            for table in Base.metadata.sorted_tables:
                if column in table.c:
                    rows = await session.execute(select(table.c[column], func.count()).group_by(table.c[column]))
                    counts.update({value: count for value, count in rows if value is not None})
            if not counts and name in TABLE_OF:  # no demo row points at it (a visit's photos): its table's first row
                counts[await session.scalar(select(func.min(Base.metadata.tables[TABLE_OF[name]].c.id)))] = 1
            ids[name] = counts.most_common(1)[0][0]
    return ids


async def _walk(client, url: str, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    items, cursor = [], None
    for _ in range(200):
        response = await client.get(url, headers=headers, params=params | ({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError(f"{url} did not end")


def _key(item: dict[str, Any]) -> Any:
    return item.get("id", tuple(sorted(item.items(), key=lambda kv: kv[0])).__repr__())


@pytest.mark.parametrize("route", LISTS, ids=_id)
async def test_each_sort_walks_every_record_once_in_order_and_updated_since_filters(app, client, demo, route):
    url = _url(route, await _parent_ids(app, route.path))
    everything = await _walk(client, url, demo["headers"], limit=100)
    keys = [_key(item) for item in everything]
    assert len(keys) == len(set(keys))
    for item in everything:  # each reference comes with its name
        named = [key.removesuffix("_id") for key in item if key.endswith("_id") and f"{key[:-3]}_name" in item]
        assert all(item[f"{key}_name"] for key in named if item[f"{key}_id"] is not None), item
    limit = max(1, math.ceil(len(everything) / 4))
    for sort in _sort_values(route) or []:
        walked = await _walk(client, url, demo["headers"], limit=limit, sort=sort)
        # The same records as the list's own order, none twice, even across the tie of equal timestamps.
        assert sorted(map(_key, walked), key=str) == sorted(keys, key=str), sort
        # The same order in small pages as in one page: the cursor continues where the sort left off.
        assert walked == await _walk(client, url, demo["headers"], limit=100, sort=sort), sort
        field = sort.removeprefix("-")
        if walked and field in walked[0] and "id" in walked[0] and not isinstance(walked[0][field], str | None):
            order = [(item[field], item["id"]) for item in walked]
            assert order == sorted(order, reverse=sort.startswith("-")), sort

    # The demo was seeded at one instant; the reference data (dictionary) before the tests froze the clock, later.
    since_seed = await _walk(client, url, demo["headers"], limit=100, updated_since=demo["seeded_at"].isoformat())
    assert since_seed == everything
    later = (clock.now() + timedelta(days=3650)).isoformat()
    assert await _walk(client, url, demo["headers"], limit=100, updated_since=later) == []


@pytest.mark.parametrize("route", LISTS, ids=_id)
async def test_a_sort_the_list_does_not_offer_is_422(client, actors, route):
    admin = await actors.make("admin")
    url = _url(route)
    for sort in ("nope", "-id", "password_hash"):
        body = assert_problem(await client.get(url, headers=admin.headers, params={"sort": sort}), 422)
        assert [error["field"] for error in body["errors"]] == ["sort"]
    body = assert_problem(await client.get(url, headers=admin.headers, params={"updated_since": "2026-06-15T02:00:00"}), 422)
    assert [error["field"] for error in body["errors"]] == ["updated_since"]  # no offset: which instant is it?


@pytest.mark.parametrize("route", ROUTES, ids=_id)
async def test_an_unknown_query_parameter_is_422_naming_it(client, route):
    url = _url(route)
    method = sorted(route.methods)[0]
    response = await client.request(
        method, url, params={"limit": 5, "colour": "blue", "sortt": "name"} if _sort_values(route) else {"sortt": "name"}
    )
    body = assert_problem(response, 422, "validation_failed")
    assert {error["field"] for error in body["errors"]} >= {"sortt"}
    assert "limit" not in {error["field"] for error in body["errors"]}


async def test_every_bad_parameter_is_named_in_one_422_and_good_ones_apply(client, demo):
    # The page parameters and the filters are read by different dependencies: one answer still names them all.
    bad = {"limit": 0, "with_total": "perhaps", "status": "sleeping", "owner_id": -1, "q": "x" * 101}
    body = assert_problem(await client.get("/api/v1/customers", headers=demo["headers"], params=bad), 422, "validation_failed")
    assert sorted(error["field"] for error in body["errors"]) == ["limit", "owner_id", "q", "status", "with_total"]
    good = {"limit": 1, "with_total": "true", "status": "active", "sort": "name"}
    page = (await client.get("/api/v1/customers", headers=demo["headers"], params=good)).json()
    everyone = (await client.get("/api/v1/customers", headers=demo["headers"], params={"limit": 100, "sort": "name"})).json()
    active = [customer for customer in everyone["items"] if customer["status"] == "active"]
    assert [customer["id"] for customer in page["items"]] == [active[0]["id"]]
    assert page["total"] == len(active)


async def test_a_cursor_keeps_its_sort(client, demo):
    first = await client.get("/api/v1/customers", headers=demo["headers"], params={"limit": 2, "sort": "name"})
    cursor = first.json()["next_cursor"]
    assert cursor
    for other in ("-name", "code", None):
        params = {"limit": 2, "cursor": cursor} | ({"sort": other} if other else {})
        assert_problem(
            await client.get("/api/v1/customers", headers=demo["headers"], params=params), 422, "pagination.invalid_cursor"
        )


async def test_updated_since_finds_the_record_changed_after_a_sync(client, demo):
    customers = (await client.get("/api/v1/customers", headers=demo["headers"], params={"limit": 2})).json()["items"]
    clock.advance(timedelta(minutes=5))
    synced_at = clock.now()
    changed = customers[1]
    response = await client.patch(
        f"/api/v1/customers/{changed['id']}",
        headers=demo["headers"] | {"If-Match": f'"{changed["version"]}"'},
        json={"fax": "021-1"},
    )
    assert response.status_code == 200, response.text
    since = await client.get("/api/v1/customers", headers=demo["headers"], params={"updated_since": synced_at.isoformat()})
    assert [item["id"] for item in since.json()["items"]] == [changed["id"]]
    beijing = synced_at.astimezone(timezone(timedelta(hours=8))).isoformat()
    since = await client.get("/api/v1/customers", headers=demo["headers"], params={"updated_since": beijing})
    assert [item["id"] for item in since.json()["items"]] == [changed["id"]]


async def test_a_filtered_list_leaves_no_page_statements_behind(client, demo):
    """Page statements are kept per list statement: those of a statement built for one request (a filtered list) go
    with it, or every filtered page would stay in memory for good."""

    async def filtered_pages() -> None:
        for region in ("shanghai", "beijing", "guangzhou", "shenzhen", "hangzhou"):
            first = await client.get("/api/v1/customers", headers=demo["headers"], params={"region": region, "limit": 1})
            assert first.status_code == 200, first.text
            if cursor := first.json()["next_cursor"]:
                params = {"region": region, "limit": 1, "cursor": cursor}
                assert (await client.get("/api/v1/customers", headers=demo["headers"], params=params)).status_code == 200

    await filtered_pages()  # the statements kept per scope shape are built now
    gc.collect()
    kept = len(pagination._PAGE_STATEMENTS)
    await filtered_pages()
    gc.collect()
    assert len(pagination._PAGE_STATEMENTS) == kept
