import pytest

from tests.custom_fields.factories import define_field
from tests.customers.factories import (
    BASE,
    assert_guarded,
    audit_of,
    churn,
    customer_names,
    make_contact,
    make_customer,
    two_managers,
)
from tests.factories import assert_problem


async def test_update_changes_fields_tags_and_phone_and_is_audited(client, actors):
    manager = await actors.make("account_manager")
    admin = await actors.make("admin")
    await define_field(client, admin, "customer", "erp_no")
    customer = await make_customer(client, manager, tags=["VIP", "华东"])
    url = f"{BASE}/{customer['id']}"
    body = {
        "name": "上海华信科技股份有限公司",
        "level": "strategic_partner",
        "phone": "13912345678",
        "tags": ["华东", "重点"],
        "satisfaction": 5,
        "custom_fields": {"erp_no": "E-9"},
    }
    response = await client.patch(url, json=body, headers=manager.headers)
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["name"] == "上海华信科技股份有限公司" and updated["level"] == "strategic_partner"
    assert updated["phone"] == "13912345678" and updated["phone_e164"] == "+8613912345678"
    assert updated["tags"] == sorted(["华东", "重点"])
    assert updated["region"] == customer["region"] and updated["code"] == customer["code"]
    assert (await client.get(url, headers=manager.headers)).json() == updated
    change = (await audit_of(client, admin, "customer", customer["id"]))[-1]
    assert change["action"] == "update" and change["actor_id"] == manager.id
    assert change["changes"]["level"] == {"before": "major", "after": "strategic_partner"}
    assert change["changes"]["tags"] == {"before": ["VIP", "华东"], "after": ["华东", "重点"]}
    assert "region" not in change["changes"]


async def test_update_can_clear_optional_fields(client, actors):
    manager = await actors.make("account_manager")
    customer = await make_customer(client, manager)
    response = await client.patch(f"{BASE}/{customer['id']}", json={"phone": None, "region": None}, headers=manager.headers)
    assert response.json()["phone"] is None and response.json()["phone_e164"] is None and response.json()["region"] is None


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"code": "KH1"}, "validation_failed"),
        ({"status": "churned"}, "validation_failed"),
        ({"owner_id": 1}, "validation_failed"),
        ({"name": None}, "validation_failed"),
        ({"tags": None}, "validation_failed"),
        ({"credit": 9}, "validation_failed"),
        ({"level": "emperor"}, "dictionary.unknown_value"),
        ({"phone": "abc"}, "phone.invalid"),
    ],
)
async def test_invalid_updates_are_422_and_change_nothing(client, actors, body, code):
    manager = await actors.make("account_manager")
    customer = await make_customer(client, manager)
    url = f"{BASE}/{customer['id']}"
    assert_problem(await client.patch(url, json=body, headers=manager.headers), 422, code)
    assert (await client.get(url, headers=manager.headers)).json() == customer


async def test_update_needs_write_and_scope(client, actors):
    a, b = await two_managers(actors)
    executive = await actors.make("executive")
    customer = await make_customer(client, a)
    url = f"{BASE}/{customer['id']}"
    await assert_guarded(client, "PATCH", url, wrong_role=executive, outsider=b, body={"name": "x"})
    assert (await client.get(url, headers=a.headers)).json()["name"] == customer["name"]


async def test_a_churned_customer_is_read_only(client, actors, app):
    manager = await actors.make("account_manager")
    customer = await make_customer(client, manager)
    await churn(app, customer["id"])
    url = f"{BASE}/{customer['id']}"
    assert_problem(await client.patch(url, json={"name": "x"}, headers=manager.headers), 409, "customer.not_active")
    fetched = (await client.get(url, headers=manager.headers)).json()
    assert fetched["name"] == customer["name"] and fetched["status"] == "churned"


async def test_if_match(client, actors):
    manager = await actors.make("account_manager")
    customer = await make_customer(client, manager)
    url = f"{BASE}/{customer['id']}"
    etag = (await client.get(url, headers=manager.headers)).headers["etag"]
    first = await client.patch(url, json={"address": "上海市浦东新区张江路88号"}, headers=manager.headers | {"If-Match": etag})
    assert first.status_code == 200 and first.headers["etag"] != etag
    stale = await client.patch(url, json={"address": "北京"}, headers=manager.headers | {"If-Match": etag})
    assert_problem(stale, 412, "precondition.etag_mismatch")
    assert (await client.get(url, headers=manager.headers)).json()["address"] == "上海市浦东新区张江路88号"
    fresh = await client.patch(url, json={"address": "北京"}, headers=manager.headers | {"If-Match": first.headers["etag"]})
    assert fresh.status_code == 200


async def test_soft_delete_hides_and_restore_brings_back(client, actors):
    manager = await actors.make("account_manager")
    admin = await actors.make("admin")
    customer = await make_customer(client, manager)
    contact = await make_contact(client, manager, customer["id"])
    url = f"{BASE}/{customer['id']}"
    assert (await client.delete(url, headers=manager.headers)).status_code == 204
    assert_problem(await client.get(url, headers=manager.headers), 404, "customer.not_found")
    assert_problem(await client.get(url, headers=admin.headers), 404, "customer.not_found")
    assert_problem(await client.get(f"{url}/contacts/{contact['id']}", headers=manager.headers), 404)
    assert_problem(await client.patch(url, json={"name": "x"}, headers=manager.headers), 404)
    assert_problem(await client.delete(url, headers=manager.headers), 404)
    assert await customer_names(client, admin) == []

    restored = await client.post(f"{url}/restore", headers=manager.headers)
    assert restored.status_code == 200
    bookkeeping = {"updated_at", "version"}
    assert {k: v for k, v in restored.json().items() if k not in bookkeeping} == {
        k: v for k, v in customer.items() if k not in bookkeeping
    }
    assert await customer_names(client, manager) == [customer["name"]]
    assert (await client.get(f"{url}/contacts/{contact['id']}", headers=manager.headers)).status_code == 200
    assert_problem(await client.post(f"{url}/restore", headers=manager.headers), 409, "customer.not_deleted")

    events = await audit_of(client, admin, "customer", customer["id"])
    assert [e["action"] for e in events] == ["create", "delete", "restore"]
    assert events[1]["changes"]["deleted_at"]["before"] is None and events[1]["changes"]["deleted_at"]["after"]
    assert events[2]["changes"]["deleted_at"]["after"] is None


async def test_delete_and_restore_need_permission_and_scope(client, actors):
    a, b = await two_managers(actors)
    executive = await actors.make("executive")
    customer = await make_customer(client, a)
    url = f"{BASE}/{customer['id']}"
    await assert_guarded(client, "DELETE", url, wrong_role=executive, outsider=b)
    assert (await client.delete(url, headers=a.headers)).status_code == 204
    await assert_guarded(client, "POST", f"{url}/restore", wrong_role=executive, outsider=b)
    assert_problem(await client.post(f"{BASE}/999999/restore", headers=a.headers), 404)


async def test_transfer_within_the_supervisors_team(client, actors):
    a, b = await two_managers(actors)
    supervisor = await actors.make("sales_supervisor", team="east")
    admin = await actors.make("admin")
    customer = await make_customer(client, a)
    url = f"{BASE}/{customer['id']}"
    response = await client.post(f"{url}/transfer", json={"owner_id": b.id}, headers=supervisor.headers)
    assert response.status_code == 200, response.text
    assert response.json()["owner_id"] == b.id
    assert_problem(await client.get(url, headers=a.headers), 404)
    assert (await client.get(url, headers=b.headers)).json()["owner_id"] == b.id
    event = (await audit_of(client, admin, "customer", customer["id"]))[-1]
    assert event["action"] == "transfer" and event["actor_id"] == supervisor.id
    assert event["changes"]["owner_id"] == {"before": a.id, "after": b.id}


async def test_transfer_refusals(client, actors, app):
    a, b = await two_managers(actors)
    south = await actors.make("account_manager", team="south")
    gone = await actors.make("account_manager", team="east", active=False)
    east_supervisor = await actors.make("sales_supervisor", team="east")
    south_supervisor = await actors.make("sales_supervisor", team="south")
    executive = await actors.make("executive")
    admin = await actors.make("admin")
    customer = await make_customer(client, a)
    url = f"{BASE}/{customer['id']}/transfer"

    assert_problem(await client.post(url, json={"owner_id": b.id}), 401)
    assert_problem(await client.post(url, json={"owner_id": b.id}, headers=a.headers), 403, "auth.missing_permission")
    assert_problem(await client.post(url, json={"owner_id": b.id}, headers=executive.headers), 403)
    assert_problem(await client.post(url, json={"owner_id": b.id}, headers=south_supervisor.headers), 404)
    inactive = await client.post(url, json={"owner_id": gone.id}, headers=east_supervisor.headers)
    assert assert_problem(inactive, 422, "customer.owner_inactive")["errors"][0]["field"] == "owner_id"
    assert_problem(await client.post(url, json={"owner_id": 999999}, headers=admin.headers), 422, "customer.owner_inactive")
    outside = await client.post(url, json={"owner_id": south.id}, headers=east_supervisor.headers)
    assert_problem(outside, 422, "customer.owner_outside_team")
    assert_problem(await client.post(url, json={"owner_id": b.id, "name": "x"}, headers=admin.headers), 422)
    await churn(app, customer["id"])
    assert_problem(await client.post(url, json={"owner_id": b.id}, headers=admin.headers), 409, "customer.not_active")
    assert (await client.get(f"{BASE}/{customer['id']}", headers=a.headers)).json()["owner_id"] == a.id


async def test_admin_transfers_across_teams(client, actors):
    a = await actors.make("account_manager", team="east")
    south = await actors.make("account_manager", team="south")
    admin = await actors.make("admin")
    customer = await make_customer(client, a)
    response = await client.post(f"{BASE}/{customer['id']}/transfer", json={"owner_id": south.id}, headers=admin.headers)
    assert response.status_code == 200 and response.json()["owner_id"] == south.id


async def test_a_kept_value_of_a_deactivated_dictionary_item_still_saves(client, actors):
    manager = await actors.make("account_manager")
    admin = await actors.make("admin")
    customer = await make_customer(client, manager, region="hebei")
    items = (await client.get("/api/v1/dictionary", params={"category": "region", "limit": 100}, headers=admin.headers)).json()
    [hebei] = [item for item in items["items"] if item["value"] == "hebei"]
    assert (
        await client.patch(f"/api/v1/dictionary/{hebei['id']}", json={"active": False}, headers=admin.headers)
    ).status_code == 200

    url = f"{BASE}/{customer['id']}"
    kept = await client.patch(url, json={"region": "hebei", "address": "石家庄市"}, headers=manager.headers)
    assert kept.status_code == 200, kept.text
    other = await make_customer(client, manager, name="新公司", region="beijing")
    moved = await client.patch(f"{BASE}/{other['id']}", json={"region": "hebei"}, headers=manager.headers)
    assert_problem(moved, 422, "dictionary.unknown_value")


async def test_deleted_customers_are_listed_for_those_who_may_restore_them(client, actors):
    a, b = await two_managers(actors)
    executive = await actors.make("executive")
    kept = await make_customer(client, a, name="留下的公司")
    gone = await make_customer(client, a, name="删除的公司")
    await make_customer(client, b, name="B的公司")
    assert (await client.delete(f"{BASE}/{gone['id']}", headers=a.headers)).status_code == 204

    bin_ = (await client.get(BASE, params={"deleted": True}, headers=a.headers)).json()["items"]
    assert [c["name"] for c in bin_] == ["删除的公司"] and bin_[0]["deleted_at"]
    assert await customer_names(client, a) == [kept["name"]]
    assert await customer_names(client, b, deleted=True) == []
    assert_problem(await client.get(BASE, params={"deleted": True}, headers=executive.headers), 403)
