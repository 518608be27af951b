"""Duplicate candidates by normalized name, phone and email, within the caller's scope.

The duplicate guard (test_duplicate_guard.py) keeps new duplicates out, so the pairs here are customers from before
it (`make_legacy_duplicate`): what the report and the merge tool are for."""

import pytest

from crm_api.core.names import normalize_company_name
from tests.customers.factories import BASE, make_customer, make_legacy_duplicate, two_managers
from tests.factories import assert_problem

URL = f"{BASE}/duplicates"


async def pairs_seen_by(client, actor, **params) -> list[dict]:
    response = await client.get(URL, params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


@pytest.mark.parametrize(
    "name",
    [
        "上海华信科技有限公司",
        "上海华信科技 (Co., Ltd.)",
        "上海华信科技（集团）股份有限公司",
        "上海华信科技有限责任公司",
        " 上海 华信 科技 Inc. ",
    ],
)
def test_company_names_normalize_to_one_key(name):
    assert normalize_company_name(name) == "上海华信科技"


def test_full_width_and_case_fold_but_not_inside_words():
    assert normalize_company_name("ＨＵＡＸＩＮ　Ｔｅｃｈ Co., Ltd.") == normalize_company_name("huaxin tech") == "huaxintech"
    assert normalize_company_name("Incredible Corp") == "incredible"


async def test_anonymous_401_and_wrong_role_403(client, actors):
    marketer = await actors.make("marketer")
    assert_problem(await client.get(URL), 401)
    assert_problem(await client.get(URL, headers=marketer.headers), 403, "auth.missing_permission")


async def test_same_company_by_name_variant_and_full_width_phone(client, actors, app):
    manager = await actors.make("account_manager")
    first = await make_customer(client, manager, name="上海华信科技有限公司", phone="021-6234 5678")
    second = await make_legacy_duplicate(app, manager, name="上海华信科技 (Co., Ltd.)", phone="０２１－６２３４ ５６７８")
    by_phone = await make_legacy_duplicate(app, manager, name="华信上海分部", phone="+86 21 6234 5678")
    by_email = await make_customer(client, manager, name="甲", phone="010-12345678", email="Info@Huaxin.cn")
    other_email = await make_legacy_duplicate(app, manager, name="乙", phone="010-87654321", email="info@huaxin.cn")
    await make_customer(client, manager, name="深圳华为技术有限公司", phone="0755-28780808")

    pairs = {(p["customer_id"], p["other_id"]): p for p in await pairs_seen_by(client, manager)}
    assert set(pairs) == {
        (first["id"], second["id"]),
        (first["id"], by_phone["id"]),
        (second["id"], by_phone["id"]),
        (by_email["id"], other_email["id"]),
    }
    best = pairs[(first["id"], second["id"])]
    assert best["reasons"] == ["name", "phone"] and best["score"] == 0.97
    assert best["customer_name"] == "上海华信科技有限公司" and best["other_name"] == "上海华信科技 (Co., Ltd.)"
    assert pairs[(first["id"], by_phone["id"])]["reasons"] == ["phone"]
    assert pairs[(by_email["id"], other_email["id"])]["reasons"] == ["email"]
    # Likeliest first.
    assert next(iter(pairs)) == (first["id"], second["id"])


async def test_only_pairs_within_the_callers_scope(client, actors, app):
    a, b = await two_managers(actors)
    supervisor = await actors.make("sales_supervisor", team="east")
    mine = await make_customer(client, a, name="上海华信科技有限公司")
    theirs = await make_legacy_duplicate(app, b, name="上海华信科技 (Co., Ltd.)")
    assert await pairs_seen_by(client, a) == []
    assert await pairs_seen_by(client, b) == []
    [pair] = await pairs_seen_by(client, supervisor)
    assert (pair["customer_id"], pair["other_id"]) == (mine["id"], theirs["id"])


async def test_paged_with_a_cursor(client, actors, app):
    manager = await actors.make("account_manager")
    await make_customer(client, manager, name="重复公司0有限公司", phone="021-6234 5678")
    for i in (1, 2):
        await make_legacy_duplicate(app, manager, name=f"重复公司{i}有限公司", phone="021-6234 5678")
    first = await client.get(URL, params={"limit": 2, "with_total": "true"}, headers=manager.headers)
    body = first.json()
    assert len(body["items"]) == 2 and body["total"] == 3 and body["next_cursor"]
    rest = await pairs_seen_by(client, manager, limit=2, cursor=body["next_cursor"])
    seen = {(p["customer_id"], p["other_id"]) for p in body["items"] + rest}
    assert len(seen) == 3


async def test_a_renamed_legacy_customer_is_compared_by_its_new_name(client, actors, app):
    manager = await actors.make("account_manager")
    first = await make_customer(client, manager, name="上海华信科技有限公司", phone=None)
    other = await make_legacy_duplicate(app, manager, name="北京某某", phone=None)
    assert await pairs_seen_by(client, manager) == []
    # The guard refuses the rename through the API; old data may carry such a name all the same.
    response = await client.patch(f"{BASE}/{other['id']}", json={"name": "上海华信科技集团"}, headers=manager.headers)
    assert_problem(response, 409, "customer.duplicate")
    await rename_in_database(app, other["id"], "上海华信科技集团")
    [pair] = await pairs_seen_by(client, manager)
    assert (pair["customer_id"], pair["other_id"], pair["reasons"]) == (first["id"], other["id"], ["name"])


async def rename_in_database(app, customer_id: int, name: str) -> None:
    from crm_api.models.customer import Customer

    async with app.state.db.sessionmaker() as session, session.begin():
        (await session.get(Customer, customer_id)).name = name
