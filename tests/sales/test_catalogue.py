"""The product catalogue an admin edits, next to the sales system's upserts (SPEC §3.13)."""

from sqlalchemy import select

from crm_api.models.platform import AuditEvent
from tests.factories import assert_problem
from tests.sales.factories import integrator_key, product

API = "/api/v1/products"
NEW = {"code": "SKU-1", "name": "焊接钢管", "model": "DN50", "unit": "吨", "price": "4200.00", "tax_rate": "9.00"}


async def test_admin_adds_and_edits_a_product_and_others_may_not(client, actors, app):
    admin = await actors.make("admin")
    manager = await actors.make("account_manager")
    assert_problem(await client.post(API, json=NEW), 401)
    assert_problem(await client.post(API, json=NEW, headers=manager.headers), 403, "auth.missing_permission")

    created = await client.post(API, json=NEW, headers=admin.headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body | {"id": 0, "synced_at": None} == {
        **NEW,
        "id": 0,
        "external_id": None,
        "batch": None,
        "active": True,
        "version": 1,
        "synced_at": None,
    }
    url = f"{API}/{body['id']}"
    assert_problem(await client.patch(url, json={"price": "1.00"}, headers=manager.headers), 403)
    assert_problem(await client.patch(url, json={"price": "1.00"}, headers={**admin.headers, "If-Match": '"9"'}), 412)
    edited = await client.patch(url, json={"price": "3999.50", "active": False}, headers={**admin.headers, "If-Match": '"1"'})
    assert edited.status_code == 200, edited.text
    assert (edited.json()["price"], edited.json()["active"], edited.json()["version"]) == ("3999.50", False, 2)
    assert_problem(await client.patch(f"{API}/99999", json={"price": "1.00"}, headers=admin.headers), 404, "product.not_found")
    async with app.state.db.sessionmaker() as session:
        actions = (await session.scalars(select(AuditEvent.action).where(AuditEvent.entity_type == "product"))).all()
    assert sorted(actions) == ["create", "update"]


async def test_bad_products_are_422_and_a_taken_code_409(client, actors):
    admin = await actors.make("admin")
    for bad in ({**NEW, "price": "-1"}, {**NEW, "tax_rate": "101"}, {**NEW, "code": ""}, {**NEW, "external_id": "X"}):
        assert_problem(await client.post(API, json=bad, headers=admin.headers), 422)
    assert (await client.post(API, json=NEW, headers=admin.headers)).status_code == 201
    assert_problem(await client.post(API, json={**NEW, "name": "other"}, headers=admin.headers), 409)
    assert_problem(await client.patch(f"{API}/1", json={"name": None}, headers=admin.headers), 422)


async def test_search_by_name_code_or_model_and_active(client, actors):
    admin = await actors.make("admin")
    manager = await actors.make("account_manager")
    await client.post(API, json=NEW, headers=admin.headers)
    await client.post(API, json={**NEW, "code": "AB-7", "name": "无缝钢管", "model": "sku-x"}, headers=admin.headers)
    other = (await client.post(API, json={**NEW, "code": "ZZ-1", "name": "螺丝", "model": "M8"}, headers=admin.headers)).json()
    await client.patch(f"{API}/{other['id']}", json={"active": False}, headers=admin.headers)

    async def codes(**params):
        items = (await client.get(API, params=params, headers=manager.headers)).json()["items"]
        return sorted(item["code"] for item in items)

    assert await codes(q="sku") == ["AB-7", "SKU-1"]
    assert await codes(q="钢管") == ["AB-7", "SKU-1"]
    assert await codes(q="m8") == ["ZZ-1"]
    assert await codes(active="false") == ["ZZ-1"]
    assert await codes(active="true", q="zz") == []


async def test_the_sales_system_upsert_keeps_the_admins_code_tax_rate_and_active(client, actors):
    admin = await actors.make("admin")
    _, key = await integrator_key(client, actors)
    sync = "/api/v1/integrations/sales/products"
    assert (await client.put(sync, json={"items": [product("P1", price="10.00")]}, headers=key)).status_code == 200
    stored = (await client.get(API, headers=admin.headers)).json()["items"][0]
    assert (stored["code"], stored["tax_rate"], stored["active"]) == (None, "13.00", True)
    edit = {"code": "ERP-P1", "tax_rate": "6.00", "active": False}
    assert (await client.patch(f"{API}/{stored['id']}", json=edit, headers=admin.headers)).status_code == 200

    synced = await client.put(sync, json={"items": [product("P1", price="12.00")]}, headers=key)
    assert synced.json()["updated"] == 1
    after = (await client.get(f"{API}/{stored['id']}", headers=admin.headers)).json()
    assert (after["price"], after["code"], after["tax_rate"], after["active"]) == ("12.00", "ERP-P1", "6.00", False)
    assert after["version"] > stored["version"]
