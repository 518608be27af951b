"""Admins define custom fields per entity; anyone signed in lists them; every change is audited."""

import pytest
from sqlalchemy import update

from crm_api.models.customer import Customer
from tests.custom_fields.factories import BASE, define_field
from tests.customers.factories import BASE as CUSTOMERS
from tests.customers.factories import audit_of, make_customer
from tests.factories import assert_problem


async def test_the_four_cases_of_defining_a_field(client, actors):
    admin, manager = await actors.make("admin"), await actors.make("account_manager")
    body = {"key": "erp_no", "label": "ERP 编号", "type": "text"}
    assert_problem(await client.post(f"{BASE}/customer", json=body), 401)
    assert_problem(await client.get(f"{BASE}/customer"), 401)
    assert_problem(await client.patch(f"{BASE}/customer/erp_no", json={"label": "x"}, headers=manager.headers), 403)
    assert_problem(await client.post(f"{BASE}/customer/erp_no/deactivate", headers=manager.headers), 403)
    assert_problem(await client.post(f"{BASE}/customer", json=body, headers=manager.headers), 403, "auth.missing_permission")
    assert_problem(await client.patch(f"{BASE}/customer/missing", json={"label": "x"}, headers=admin.headers), 404)
    assert_problem(await client.post(f"{BASE}/customer/missing/deactivate", headers=admin.headers), 404)
    assert_problem(await client.post(f"{BASE}/planet", json=body, headers=admin.headers), 422)
    created = await define_field(client, admin, "customer", "erp_no", label="ERP 编号", required=True, sort_order=2)
    assert created | {"id": 0, "created_at": "", "updated_at": ""} == {
        "id": 0,
        "entity": "customer",
        "key": "erp_no",
        "label": "ERP 编号",
        "type": "text",
        "dictionary_category": None,
        "required": True,
        "unique": False,
        "active": True,
        "sort_order": 2,
        "version": 1,
        "created_at": "",
        "updated_at": "",
    }
    # Anyone signed in reads the definitions (forms need them); the same key on another entity is another field.
    listed = (await client.get(f"{BASE}/customer", headers=manager.headers)).json()["items"]
    assert [field["key"] for field in listed] == ["erp_no"]
    assert (await client.get(f"{BASE}/lead", headers=manager.headers)).json()["items"] == []
    await define_field(client, admin, "lead", "erp_no")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"key": "ERP No", "label": "x", "type": "text"}, "key"),
        ({"key": "9lives", "label": "x", "type": "text"}, "key"),
        ({"key": "ok", "label": "x", "type": "colour"}, "type"),
        ({"key": "ok", "label": "x", "type": "choice"}, "body"),
        ({"key": "ok", "label": "x", "type": "text", "dictionary_category": "region"}, "body"),
        ({"key": "ok", "label": "x", "type": "boolean", "unique": True}, "body"),
        ({"key": "ok", "label": "x", "type": "text", "active": False}, "active"),
    ],
)
async def test_a_definition_that_cannot_work_is_refused(client, actors, body, field):
    admin = await actors.make("admin")
    problem = assert_problem(await client.post(f"{BASE}/customer", json=body, headers=admin.headers), 422)
    assert field in {error["field"] for error in problem["errors"]}


async def test_keys_are_unique_per_entity_and_choices_need_a_known_category(client, actors):
    admin = await actors.make("admin")
    await define_field(client, admin, "customer", "erp_no")
    again = await client.post(f"{BASE}/customer", json={"key": "erp_no", "label": "x", "type": "text"}, headers=admin.headers)
    assert_problem(again, 409, "custom_field.duplicate_key")
    same_label = {"key": "erp", "label": "Erp No", "type": "text"}
    assert_problem(
        await client.post(f"{BASE}/customer", json=same_label, headers=admin.headers), 409, "custom_field.duplicate_label"
    )
    await define_field(client, admin, "customer", "erp")
    relabel = await client.patch(f"{BASE}/customer/erp", json={"label": "Erp No"}, headers=admin.headers)
    assert_problem(relabel, 409, "custom_field.duplicate_label")
    body = {"key": "planet", "label": "x", "type": "choice", "dictionary_category": "planets"}
    problem = assert_problem(await client.post(f"{BASE}/customer", json=body, headers=admin.headers), 422)
    assert problem["code"] == "custom_field.unknown_category"


async def test_patch_changes_label_order_and_rules_but_never_key_or_type(client, actors):
    admin = await actors.make("admin")
    await define_field(client, admin, "customer", "erp_no")
    url = f"{BASE}/customer/erp_no"
    assert_problem(await client.patch(url, json={"type": "number"}, headers=admin.headers), 422)
    assert_problem(await client.patch(url, json={"key": "erp"}, headers=admin.headers), 422)
    assert_problem(await client.patch(url, json={"label": None}, headers=admin.headers), 422)
    response = await client.patch(url, json={"label": "ERP", "sort_order": 5, "required": True}, headers=admin.headers)
    assert response.status_code == 200, response.text
    changed = response.json()
    assert (changed["label"], changed["sort_order"], changed["required"], changed["version"]) == ("ERP", 5, True, 2)
    [event] = [e for e in await audit_of(client, admin, "custom_field", changed["id"]) if e["action"] == "update"]
    assert event["changes"]["label"] == {"before": "Erp No", "after": "ERP"}


async def test_deactivate_and_activate_are_audited_and_listing_hides_inactive_fields(client, actors):
    admin = await actors.make("admin")
    field = await define_field(client, admin, "customer", "erp_no")
    response = await client.post(f"{BASE}/customer/erp_no/deactivate", headers=admin.headers)
    assert response.status_code == 200 and response.json()["active"] is False
    assert (await client.get(f"{BASE}/customer", headers=admin.headers)).json()["items"] == []
    everything = await client.get(f"{BASE}/customer", params={"include_inactive": True}, headers=admin.headers)
    assert [f["key"] for f in everything.json()["items"]] == ["erp_no"]
    assert (await client.post(f"{BASE}/customer/erp_no/activate", headers=admin.headers)).json()["active"] is True
    actions = [e["action"] for e in await audit_of(client, admin, "custom_field", field["id"])]
    assert actions == ["create", "deactivate", "activate"]


async def test_a_field_over_stored_values_must_fit_them_and_stores_them_normalised(client, actors, app):
    """Values kept under a key before it was defined (the untyped bag customers had) must be of the field's type."""
    admin, manager = await actors.make("admin"), await actors.make("account_manager")
    many = await make_customer(client, manager, name="甲")
    some = await make_customer(client, manager, name="乙")
    async with app.state.db.sessionmaker() as session, session.begin():
        for customer_id, document in ((many["id"], {"employees": "many"}), (some["id"], {"employees": "120", "erp": "E"})):
            await session.execute(update(Customer).where(Customer.id == customer_id).values(custom_fields=document))
    problem = assert_problem(
        await client.post(
            f"{BASE}/customer", json={"key": "employees", "label": "员工数", "type": "number"}, headers=admin.headers
        ),
        409,
        "custom_field.stored_values_conflict",
    )
    assert (problem["unfit"], problem["repeated"]) == (1, 0)
    # The same key on contacts is another field, over no values.
    await define_field(client, admin, "contact", "employees", "number")

    url = f"{CUSTOMERS}/{many['id']}"
    async with app.state.db.sessionmaker() as session, session.begin():
        await session.execute(update(Customer).where(Customer.id == many["id"]).values(custom_fields={"employees": "120.0"}))
    await define_field(client, admin, "customer", "employees", "number", label="员工数")
    assert (await client.get(url, headers=manager.headers)).json()["custom_fields"] == {"employees": 120}
    found = await client.get(CUSTOMERS, params={"cf.employees": "120"}, headers=manager.headers)
    assert sorted(c["name"] for c in found.json()["items"]) == ["乙", "甲"]
    # Turning unique on over repeated values is refused the same way.
    turned_on = await client.patch(f"{BASE}/customer/employees", json={"unique": True}, headers=admin.headers)
    assert assert_problem(turned_on, 409, "custom_field.stored_values_conflict")["repeated"] == 1
