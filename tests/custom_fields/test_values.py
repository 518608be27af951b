"""Values of custom fields on create and update: typed, normalised, required, unique, and each error on its field."""

from typing import Any

import httpx
import pytest

from tests.custom_fields.factories import BASE, define_field
from tests.customers.factories import BASE as CUSTOMERS
from tests.customers.factories import company, make_contact, make_customer
from tests.factories import Actor, assert_problem
from tests.leads.factories import API as LEADS
from tests.leads.factories import lead_body, lead_in
from tests.opportunities.factories import API as OPPORTUNITIES
from tests.opportunities.factories import opportunity_body
from tests.tickets.factories import URL as TICKETS
from tests.tickets.factories import ticket_body


async def every_type(client: httpx.AsyncClient, admin: Actor, entity: str) -> None:
    await define_field(client, admin, entity, "erp_no", "text", label="ERP 编号")
    await define_field(client, admin, entity, "employees", "number")
    await define_field(client, admin, entity, "capital", "decimal")
    await define_field(client, admin, entity, "founded", "date")
    await define_field(client, admin, entity, "listed", "boolean")
    await define_field(client, admin, entity, "hq", "choice", dictionary_category="region")
    await define_field(client, admin, entity, "markets", "multi_choice", dictionary_category="region")


GIVEN = {
    "erp_no": " E-1 ",
    "employees": "120",
    "capital": "1234.50",
    "founded": "2001-02-03",
    "listed": True,
    "hq": "上海",
    "markets": ["beijing", "上海", "beijing"],
}
STORED = {
    "erp_no": "E-1",
    "employees": 120,
    "capital": "1234.5",
    "founded": "2001-02-03",
    "listed": True,
    "hq": "shanghai",
    "markets": ["beijing", "shanghai"],
}
WRONG = {
    "employees": "many",
    "capital": "12,5",
    "founded": "2001-02-30",
    "listed": "perhaps",
    "hq": "mars",
    "markets": ["beijing", "mars"],
    "nickname": "x",
}


async def create(client: httpx.AsyncClient, actor: Actor, entity: str, custom_fields: Any) -> httpx.Response:
    """POST a record of the entity with these custom fields."""
    if entity == "customer":
        return await client.post(CUSTOMERS, json=company(custom_fields=custom_fields), headers=actor.headers)
    if entity == "contact":
        customer = await make_customer(client, actor)
        body = {
            "name": "陈静",
            "gender": "female",
            "title": "经理",
            "office_phone": "021-62345679",
            "custom_fields": custom_fields,
        }
        return await client.post(f"{CUSTOMERS}/{customer['id']}/contacts", json=body, headers=actor.headers)
    if entity == "lead":
        body = lead_body(phone=None, email=None, custom_fields=custom_fields)
        return await client.post(LEADS, json=body, headers=actor.headers)
    if entity == "opportunity":
        return await client.post(OPPORTUNITIES, json=opportunity_body(custom_fields=custom_fields), headers=actor.headers)
    customer = await make_customer(client, actor, name=f"客户 {id(custom_fields)}")
    return await client.post(TICKETS, json=ticket_body(customer["id"], custom_fields=custom_fields), headers=actor.headers)


ENTITIES = ["customer", "contact", "lead", "opportunity", "ticket"]


@pytest.mark.parametrize("entity", ENTITIES)
async def test_every_type_is_stored_normalised_and_every_wrong_value_is_a_422_on_its_field(client, actors, entity):
    admin = await actors.make("admin")
    await every_type(client, admin, entity)
    wrong = assert_problem(await create(client, admin, entity, WRONG), 422, "custom_field.invalid")
    assert {error["field"] for error in wrong["errors"]} == {f"custom_fields.{key}" for key in WRONG}
    assert {e["type"] for e in wrong["errors"] if e["field"] == "custom_fields.nickname"} == {"unknown_field"}
    response = await create(client, admin, entity, GIVEN)
    assert response.status_code == 201, response.text
    assert response.json()["custom_fields"] == STORED


@pytest.mark.parametrize(
    ("field_type", "value"),
    [
        ("text", 12),
        ("text", "x" * 1001),
        ("number", True),
        ("number", [1]),
        ("decimal", "NaN"),
        ("decimal", "1" * 29),
        ("date", 20010203),
        ("boolean", 1),
        ("choice", ["shanghai"]),
        ("multi_choice", "beijing;mars"),
    ],
)
async def test_a_value_of_the_wrong_shape_is_refused(client, actors, field_type, value):
    admin = await actors.make("admin")
    category = {"dictionary_category": "region"} if "choice" in field_type else {}
    await define_field(client, admin, "customer", "field", field_type, **category)
    problem = assert_problem(await create(client, admin, "customer", {"field": value}), 422, "custom_field.invalid")
    assert [error["field"] for error in problem["errors"]] == ["custom_fields.field"]


async def test_required_on_create_and_never_cleared_but_old_records_are_not_forced(client, actors):
    admin, manager = await actors.make("admin"), await actors.make("account_manager")
    before = await make_customer(client, manager, name="早")
    await define_field(client, admin, "customer", "erp_no", required=True)
    missing = assert_problem(await client.post(CUSTOMERS, json={"name": "甲"}, headers=manager.headers), 422)
    assert missing["errors"] == [{"field": "custom_fields.erp_no", "message": "Erp No is required", "type": "missing"}]
    blank = await client.post(CUSTOMERS, json={"name": "甲", "custom_fields": {"erp_no": " "}}, headers=manager.headers)
    assert assert_problem(blank, 422)["errors"][0]["field"] == "custom_fields.erp_no"
    customer = await make_customer(client, manager, name="乙", custom_fields={"erp_no": "E-1"})
    cleared = await client.patch(
        f"{CUSTOMERS}/{customer['id']}", json={"custom_fields": {"erp_no": None}}, headers=manager.headers
    )
    assert assert_problem(cleared, 422)["errors"][0]["type"] == "missing"
    # A customer made before the field became required edits other fields without one.
    edited = await client.patch(f"{CUSTOMERS}/{before['id']}", json={"address": "上海"}, headers=manager.headers)
    assert edited.status_code == 200 and edited.json()["custom_fields"] == {}


async def test_patch_changes_only_the_keys_sent_and_null_clears(client, actors):
    admin, manager = await actors.make("admin"), await actors.make("account_manager")
    await define_field(client, admin, "customer", "erp_no")
    await define_field(client, admin, "customer", "employees", "number")
    customer = await make_customer(client, manager, custom_fields={"erp_no": "E-1", "employees": 5})
    url = f"{CUSTOMERS}/{customer['id']}"
    changed = await client.patch(url, json={"custom_fields": {"employees": 6}}, headers=manager.headers)
    assert changed.json()["custom_fields"] == {"erp_no": "E-1", "employees": 6}
    cleared = await client.patch(url, json={"custom_fields": {"erp_no": None}}, headers=manager.headers)
    assert cleared.json()["custom_fields"] == {"employees": 6}
    assert_problem(await client.patch(url, json={"custom_fields": None}, headers=manager.headers), 422)
    assert (await client.get(url, headers=manager.headers)).json()["custom_fields"] == {"employees": 6}


@pytest.mark.parametrize("entity", ["customer", "lead", "opportunity"])
async def test_unique_among_live_records_and_a_record_keeps_its_own_value(client, actors, entity):
    admin = await actors.make("admin")
    await define_field(client, admin, entity, "erp_no", unique=True)
    first = await create(client, admin, entity, {"erp_no": "E-1"})
    assert first.status_code == 201, first.text
    taken = assert_problem(await create(client, admin, entity, {"erp_no": "E-1"}), 422, "custom_field.invalid")
    assert taken["errors"][0] | {"message": ""} == {"field": "custom_fields.erp_no", "message": "", "type": "unique"}
    assert (await create(client, admin, entity, {"erp_no": "E-2"})).status_code == 201
    url = {"customer": CUSTOMERS, "lead": LEADS, "opportunity": OPPORTUNITIES}[entity] + f"/{first.json()['id']}"
    kept = await client.patch(url, json={"custom_fields": {"erp_no": "E-1"}}, headers=admin.headers)
    assert kept.status_code == 200, kept.text
    clash = await client.patch(url, json={"custom_fields": {"erp_no": "E-2"}}, headers=admin.headers)
    assert assert_problem(clash, 422)["errors"][0]["type"] == "unique"


async def test_a_soft_deleted_customer_frees_its_unique_value(client, actors):
    admin, manager = await actors.make("admin"), await actors.make("account_manager")
    await define_field(client, admin, "customer", "erp_no", unique=True)
    first = await make_customer(client, manager, name="甲", custom_fields={"erp_no": "E-1"})
    assert (await client.delete(f"{CUSTOMERS}/{first['id']}", headers=admin.headers)).status_code == 204
    await make_customer(client, manager, name="乙", custom_fields={"erp_no": "E-1"})


async def test_a_deactivated_field_keeps_its_values_is_not_required_and_is_refused_on_write(client, actors):
    admin, manager = await actors.make("admin"), await actors.make("account_manager")
    await define_field(client, admin, "customer", "erp_no", required=True)
    await define_field(client, admin, "customer", "employees", "number")
    customer = await make_customer(client, manager, custom_fields={"erp_no": "E-1", "employees": 5})
    await client.post(f"{BASE}/customer/erp_no/deactivate", headers=admin.headers)
    url = f"{CUSTOMERS}/{customer['id']}"
    assert (await client.get(url, headers=manager.headers)).json()["custom_fields"] == {"erp_no": "E-1", "employees": 5}
    # No longer required: a new customer goes without it.
    await make_customer(client, manager, name="乙")
    # No longer written: a new value is refused, the value it had passes unchanged (an SPA sends back what it read).
    refused = await client.patch(url, json={"custom_fields": {"erp_no": "E-2"}}, headers=manager.headers)
    assert assert_problem(refused, 422)["errors"][0] | {"message": ""} == {
        "field": "custom_fields.erp_no",
        "message": "",
        "type": "inactive_field",
    }
    echoed = await client.patch(url, json={"custom_fields": {"erp_no": "E-1", "employees": 6}}, headers=manager.headers)
    assert echoed.json()["custom_fields"] == {"erp_no": "E-1", "employees": 6}
    # No longer filtered.
    assert_problem(await client.get(CUSTOMERS, params={"cf.erp_no": "E-1"}, headers=manager.headers), 422)


async def test_contacts_carry_their_own_fields_on_update_too(client, actors):
    admin, manager = await actors.make("admin"), await actors.make("account_manager")
    await define_field(client, admin, "contact", "wechat")
    customer = await make_customer(client, manager)
    contact = await make_contact(client, manager, customer["id"], custom_fields={"wechat": "chenjing"})
    assert contact["custom_fields"] == {"wechat": "chenjing"}
    url = f"{CUSTOMERS}/{customer['id']}/contacts/{contact['id']}"
    unknown = await client.patch(url, json={"custom_fields": {"erp_no": "E-1"}}, headers=manager.headers)
    assert assert_problem(unknown, 422)["errors"][0]["field"] == "custom_fields.erp_no"
    changed = await client.patch(url, json={"custom_fields": {"wechat": "cj2"}}, headers=manager.headers)
    assert changed.json()["custom_fields"] == {"wechat": "cj2"}


async def test_a_won_opportunity_gives_the_new_customer_its_required_fields(client, actors):
    admin = await actors.make("admin")
    supervisor = await actors.make("sales_supervisor", team="east")
    manager = await actors.make("account_manager", team="east")
    await define_field(client, admin, "customer", "erp_no", required=True)
    opportunity = (await client.post(OPPORTUNITIES, json=opportunity_body(), headers=supervisor.headers)).json()
    url = f"{OPPORTUNITIES}/{opportunity['id']}"
    await client.post(f"{url}/assign", json={"assignee_id": manager.id}, headers=supervisor.headers)
    refused = await client.post(f"{url}/win", json={}, headers=manager.headers)
    assert assert_problem(refused, 422)["errors"][0]["field"] == "custom_fields.erp_no"
    won = await client.post(f"{url}/win", json={"customer_custom_fields": {"erp_no": "E-9"}}, headers=manager.headers)
    assert won.status_code == 200, won.text
    assert won.json()["customer"]["custom_fields"] == {"erp_no": "E-9"}


async def test_erasing_a_contact_erases_its_custom_fields(client, actors):
    """Custom fields may hold personal data: an erasure (§3.11) empties them with the rest."""
    admin, manager = await actors.make("admin"), await actors.make("account_manager")
    await define_field(client, admin, "contact", "wechat")
    customer = await make_customer(client, manager)
    contact = await make_contact(client, manager, customer["id"], custom_fields={"wechat": "chenjing"})
    url = f"{CUSTOMERS}/{customer['id']}/contacts/{contact['id']}/erase"
    erased = await client.post(url, json={"reason": "本人要求删除"}, headers=admin.headers)
    assert erased.status_code == 200, erased.text
    assert erased.json()["custom_fields"] == {}


async def test_a_dictionary_item_a_custom_field_holds_is_in_use(client, actors):
    """Such an item may be deactivated, not deleted (§3.1); the value a record keeps stays readable."""
    admin, manager = await actors.make("admin"), await actors.make("account_manager")
    item = (
        await client.post(
            "/api/v1/dictionary", json={"category": "channel_kind", "label": "经销", "value": "dealer"}, headers=admin.headers
        )
    ).json()
    spare = (
        await client.post(
            "/api/v1/dictionary", json={"category": "channel_kind", "label": "直销", "value": "direct"}, headers=admin.headers
        )
    ).json()
    await define_field(client, admin, "customer", "channels", "multi_choice", dictionary_category="channel_kind")
    customer = await make_customer(client, manager, custom_fields={"channels": ["经销"]})
    assert_problem(await client.delete(f"/api/v1/dictionary/{item['id']}", headers=admin.headers), 409, "dictionary.in_use")
    assert (await client.delete(f"/api/v1/dictionary/{spare['id']}", headers=admin.headers)).status_code == 204
    await client.patch(f"/api/v1/dictionary/{item['id']}", json={"active": False}, headers=admin.headers)
    # Kept as it is, the deactivated choice passes; chosen anew, it is refused.
    url = f"{CUSTOMERS}/{customer['id']}"
    kept = await client.patch(url, json={"custom_fields": {"channels": ["dealer"]}}, headers=manager.headers)
    assert kept.status_code == 200, kept.text
    other = await make_customer(client, manager, name="乙")
    chosen = await client.patch(
        f"{CUSTOMERS}/{other['id']}", json={"custom_fields": {"channels": ["dealer"]}}, headers=manager.headers
    )
    assert assert_problem(chosen, 422)["errors"][0]["field"] == "custom_fields.channels"


async def test_a_converted_lead_gives_the_new_opportunity_its_custom_fields(client, actors):
    admin, marketer = await actors.make("admin"), await actors.make("marketer", "account_manager")
    await define_field(client, admin, "opportunity", "budget", "decimal", required=True)
    lead = await lead_in(client, marketer, "qualified")
    url = f"{LEADS}/{lead['id']}/convert"
    refused = await client.post(url, json={}, headers=marketer.headers)
    assert assert_problem(refused, 422)["errors"][0]["field"] == "custom_fields.budget"
    converted = await client.post(url, json={"custom_fields": {"budget": "50000.00"}}, headers=marketer.headers)
    assert converted.status_code == 200, converted.text
    assert converted.json()["opportunity"]["custom_fields"] == {"budget": "50000"}
