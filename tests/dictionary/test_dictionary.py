import pytest

from crm_api.core.errors import InvalidInput
from crm_api.dictionary.service import ensure_value
from crm_api.models.customer import Customer
from tests.factories import assert_problem


async def _items(client, headers, **params):
    return (await client.get("/api/v1/dictionary", params={"limit": 100} | params, headers=headers)).json()["items"]


async def test_seeded_categories_are_readable_by_any_signed_in_user(client, actors):
    manager = await actors.make("account_manager")
    levels = await _items(client, manager.headers, category="customer_level")
    assert [i["label"] for i in levels] == ["普通客户", "重点开发客户", "大客户", "合作伙伴", "战略合作伙伴"]
    assert {i["value"] for i in await _items(client, manager.headers, category="service_type")} == {
        "consultation",
        "suggestion",
        "complaint",
    }
    assert_problem(await client.get("/api/v1/dictionary"), 401)


async def test_admin_adds_changes_and_deletes_an_unused_item(client, actors):
    admin = await actors.make("admin")
    created = await client.post(
        "/api/v1/dictionary",
        json={"category": "region", "label": "西藏", "value": "xizang", "sort_order": 500},
        headers=admin.headers,
    )
    assert created.status_code == 201
    item_id = created.json()["id"]
    duplicate = await client.post(
        "/api/v1/dictionary", json={"category": "region", "label": "x", "value": "xizang"}, headers=admin.headers
    )
    assert_problem(duplicate, 409, "dictionary.duplicate_value")
    changed = await client.patch(f"/api/v1/dictionary/{item_id}", json={"label": "西藏自治区"}, headers=admin.headers)
    assert changed.json()["label"] == "西藏自治区"
    assert (await client.delete(f"/api/v1/dictionary/{item_id}", headers=admin.headers)).status_code == 204
    assert all(i["value"] != "xizang" for i in await _items(client, admin.headers, category="region"))


async def test_builtin_items_refuse_change_and_deletion(client, actors):
    admin = await actors.make("admin")
    complaint = next(i for i in await _items(client, admin.headers, category="service_type") if i["value"] == "complaint")
    assert_problem(
        await client.patch(f"/api/v1/dictionary/{complaint['id']}", json={"label": "x"}, headers=admin.headers),
        409,
        "dictionary.not_editable",
    )
    assert_problem(
        await client.delete(f"/api/v1/dictionary/{complaint['id']}", headers=admin.headers), 409, "dictionary.not_editable"
    )


async def test_an_item_in_use_is_deactivated_not_deleted(client, actors, session):
    admin = await actors.make("admin")
    manager = await actors.make("account_manager")
    session.add(Customer(code="KH00000001", name="上海华信科技有限公司", owner_id=manager.id, region="fujian"))
    await session.commit()
    fujian = next(i for i in await _items(client, admin.headers, category="region") if i["value"] == "fujian")

    assert_problem(await client.delete(f"/api/v1/dictionary/{fujian['id']}", headers=admin.headers), 409, "dictionary.in_use")
    renamed = await client.patch(f"/api/v1/dictionary/{fujian['id']}", json={"value": "min"}, headers=admin.headers)
    assert_problem(renamed, 409, "dictionary.in_use")
    deactivated = await client.patch(f"/api/v1/dictionary/{fujian['id']}", json={"active": False}, headers=admin.headers)
    assert deactivated.json()["active"] is False
    assert all(i["value"] != "fujian" for i in await _items(client, admin.headers, category="region"))
    assert any(i["value"] == "fujian" for i in await _items(client, admin.headers, category="region", include_inactive=True))


async def test_ensure_value_accepts_only_active_items(session):
    await ensure_value(session, "region", "beijing", field="region")
    await ensure_value(session, "region", None, field="region")
    with pytest.raises(InvalidInput) as refused:
        await ensure_value(session, "region", "atlantis", field="region")
    assert refused.value.errors[0].field == "region"
    assert refused.value.code == "dictionary.unknown_value"


async def test_bad_dictionary_input_is_422(client, actors):
    admin = await actors.make("admin")
    bad = await client.post(
        "/api/v1/dictionary", json={"category": "Region!", "label": "", "value": "has space"}, headers=admin.headers
    )
    body = assert_problem(bad, 422)
    assert {"category", "label", "value"} <= {e["field"] for e in body["errors"]}
