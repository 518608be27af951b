import pytest

from crm_api.auth.principal import principal_for_user
from crm_api.customers.schemas import ContactCreate, CustomerCreate
from crm_api.customers.service import add_contact, create_customer
from tests.customers.factories import (
    BASE,
    audit_of,
    churn,
    make_contact,
    make_customer,
    record_of_new_customer,
    two_managers,
)
from tests.factories import assert_problem


async def test_contact_endpoints_need_auth_and_permission(client, actors):
    manager = await actors.make("account_manager")
    marketer = await actors.make("marketer")
    executive = await actors.make("executive")
    customer = await make_customer(client, manager)
    contact = await make_contact(client, manager, customer["id"])
    contacts = f"{BASE}/{customer['id']}/contacts"
    assert_problem(await client.get(contacts), 401)
    assert_problem(await client.get(contacts, headers=marketer.headers), 403)
    assert (await client.get(f"{contacts}/{contact['id']}", headers=executive.headers)).status_code == 200
    assert_problem(await client.patch(f"{contacts}/{contact['id']}", json={"title": "x"}, headers=executive.headers), 403)
    assert_problem(await client.delete(f"{contacts}/{contact['id']}", headers=executive.headers), 403)


async def test_add_list_get_contact(client, actors):
    manager = await actors.make("account_manager")
    customer = await make_customer(client, manager)
    first = await make_contact(client, manager, customer["id"], mobile="138 0013 8000", email="chen@huaxin.cn", notes="周一不在")
    await make_contact(client, manager, customer["id"], name="王强", gender="male")
    assert first["office_phone"] == "021-62345679" and first["office_phone_e164"] == "+862162345679"
    assert first["mobile"] == "138 0013 8000" and first["mobile_e164"] == "+8613800138000"
    listed = (await client.get(f"{BASE}/{customer['id']}/contacts", headers=manager.headers)).json()
    assert [c["name"] for c in listed["items"]] == ["陈静", "王强"]
    fetched = await client.get(f"{BASE}/{customer['id']}/contacts/{first['id']}", headers=manager.headers)
    assert fetched.json() == first and fetched.headers["etag"]


@pytest.mark.parametrize(
    "body",
    [
        {"gender": "female", "title": "经理", "office_phone": "021-62345679"},
        {"name": "陈静", "gender": "unknown", "title": "经理", "office_phone": "021-62345679"},
        {"name": "陈静", "gender": "female", "office_phone": "021-62345679"},
        {"name": "陈静", "gender": "female", "title": "经理"},
        {"name": "陈静", "gender": "female", "title": "经理", "office_phone": "021-62345679", "email": "nope"},
        {"name": "陈静", "gender": "female", "title": "经理", "office_phone": "021-62345679", "customer_id": 9},
    ],
)
async def test_invalid_contact_is_422_and_writes_nothing(client, actors, body):
    manager = await actors.make("account_manager")
    customer = await make_customer(client, manager)
    response = await client.post(f"{BASE}/{customer['id']}/contacts", json=body, headers=manager.headers)
    assert_problem(response, 422, "validation_failed")
    assert (await client.get(f"{BASE}/{customer['id']}/contacts", headers=manager.headers)).json()["items"] == []


@pytest.mark.parametrize("field", ["office_phone", "mobile"])
async def test_invalid_contact_phone_is_422_on_that_field(client, actors, field):
    manager = await actors.make("account_manager")
    customer = await make_customer(client, manager)
    body = {"name": "陈静", "gender": "female", "title": "经理", "office_phone": "021-62345679", field: "123"}
    response = await client.post(f"{BASE}/{customer['id']}/contacts", json=body, headers=manager.headers)
    assert assert_problem(response, 422, "phone.invalid")["errors"][0]["field"] == field


async def test_another_managers_contact_is_404(client, actors):
    a, b = await two_managers(actors)
    customer = await make_customer(client, a)
    contact = await make_contact(client, a, customer["id"])
    url = f"{BASE}/{customer['id']}/contacts"
    assert_problem(await client.get(url, headers=b.headers), 404, "customer.not_found")
    assert_problem(await client.get(f"{url}/{contact['id']}", headers=b.headers), 404, "customer.not_found")
    assert_problem(await client.patch(f"{url}/{contact['id']}", json={"title": "x"}, headers=b.headers), 404)
    assert_problem(await client.delete(f"{url}/{contact['id']}", headers=b.headers), 404)
    body = {"name": "王强", "gender": "male", "title": "经理", "office_phone": "021-62345679"}
    assert_problem(await client.post(url, json=body, headers=b.headers), 404, "customer.not_found")


async def test_contact_of_another_customer_is_404(client, actors):
    manager = await actors.make("account_manager")
    x = await make_customer(client, manager, name="X公司")
    y = await make_customer(client, manager, name="Y公司")
    contact = await make_contact(client, manager, x["id"])
    under_y = f"{BASE}/{y['id']}/contacts/{contact['id']}"
    assert_problem(await client.get(under_y, headers=manager.headers), 404, "contact.not_found")
    assert_problem(await client.patch(under_y, json={"title": "总监"}, headers=manager.headers), 404, "contact.not_found")
    assert_problem(await client.delete(under_y, headers=manager.headers), 404, "contact.not_found")
    still = await client.get(f"{BASE}/{x['id']}/contacts/{contact['id']}", headers=manager.headers)
    assert still.json()["title"] == contact["title"]


async def test_update_contact_renormalizes_and_is_audited(client, actors):
    manager = await actors.make("account_manager")
    admin = await actors.make("admin")
    contact, url = await record_of_new_customer(client, manager, "contacts")
    response = await client.patch(url, json={"title": "总经理", "office_phone": "+86 10 8888 9999"}, headers=manager.headers)
    assert response.status_code == 200, response.text
    assert response.json()["title"] == "总经理" and response.json()["office_phone_e164"] == "+861088889999"
    assert response.json()["name"] == contact["name"]
    create, change = await audit_of(client, admin, "contact", contact["id"])
    assert create["action"] == "create" and change["action"] == "update"
    assert change["changes"]["title"] == {"before": "采购经理", "after": "总经理"}


@pytest.mark.parametrize("field", ["name", "gender", "title", "office_phone"])
async def test_required_contact_fields_cannot_be_emptied(client, actors, field):
    manager = await actors.make("account_manager")
    contact, url = await record_of_new_customer(client, manager, "contacts")
    assert_problem(await client.patch(url, json={field: None}, headers=manager.headers), 422)
    assert (await client.get(url, headers=manager.headers)).json()[field] == contact[field]


async def test_stale_if_match_is_412(client, actors):
    manager = await actors.make("account_manager")
    _contact, url = await record_of_new_customer(client, manager, "contacts")
    etag = (await client.get(url, headers=manager.headers)).headers["etag"]
    fresh = await client.patch(url, json={"notes": "first"}, headers=manager.headers | {"If-Match": etag})
    assert fresh.status_code == 200
    stale = await client.patch(url, json={"notes": "second"}, headers=manager.headers | {"If-Match": etag})
    assert_problem(stale, 412, "precondition.etag_mismatch")
    assert (await client.get(url, headers=manager.headers)).json()["notes"] == "first"


async def test_delete_contact_is_audited(client, actors):
    manager = await actors.make("account_manager")
    admin = await actors.make("admin")
    contact, url = await record_of_new_customer(client, manager, "contacts")
    assert (await client.delete(url, headers=manager.headers)).status_code == 204
    assert_problem(await client.get(url, headers=manager.headers), 404, "contact.not_found")
    deleted = (await audit_of(client, admin, "contact", contact["id"]))[-1]
    assert deleted["action"] == "delete" and deleted["changes"]["name"] == {"before": "陈静", "after": None}


async def test_contacts_of_a_churned_customer_are_read_only(client, actors, app):
    manager = await actors.make("account_manager")
    customer = await make_customer(client, manager)
    contact = await make_contact(client, manager, customer["id"])
    await churn(app, customer["id"])
    url = f"{BASE}/{customer['id']}/contacts"
    body = {"name": "王强", "gender": "male", "title": "经理", "office_phone": "021-62345679"}
    assert_problem(await client.post(url, json=body, headers=manager.headers), 409, "customer.not_active")
    assert_problem(await client.patch(f"{url}/{contact['id']}", json={"title": "x"}, headers=manager.headers), 409)
    assert_problem(await client.delete(f"{url}/{contact['id']}", headers=manager.headers), 409, "customer.not_active")
    assert (await client.get(f"{url}/{contact['id']}", headers=manager.headers)).status_code == 200


async def test_service_add_contact_as_the_new_owner(session, actors):
    manager = await actors.make("account_manager")
    principal, _ = await principal_for_user(session, manager.id)
    customer = (await create_customer(session, principal, CustomerCreate(name="杭州西湖电子有限公司"))).record
    contact = (
        await add_contact(
            session,
            principal,
            customer.id,
            ContactCreate(name="李明", gender="male", title="总经理", office_phone="0571-88886666"),
        )
    ).record
    assert contact.customer_id == customer.id and contact.office_phone_e164 == "+8657188886666"
