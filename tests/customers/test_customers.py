import pytest

from crm_api.auth.principal import principal_for_user
from crm_api.core.errors import Forbidden
from crm_api.customers.schemas import CustomerCreate
from crm_api.customers.service import create_customer
from tests.custom_fields.factories import define_field
from tests.customers.factories import BASE, audit_of, churn, customer_names, make_customer, two_managers
from tests.factories import assert_problem


async def test_anonymous_is_401(client):
    assert_problem(await client.get(BASE), 401)
    assert_problem(await client.post(BASE, json={"name": "x"}), 401)
    assert_problem(await client.get(f"{BASE}/1"), 401)


async def test_roles_without_customer_permissions_are_403(client, actors):
    marketer = await actors.make("marketer")
    executive = await actors.make("executive")
    assert_problem(await client.get(BASE, headers=marketer.headers), 403, "auth.missing_permission")
    assert_problem(await client.post(BASE, json={"name": "x"}, headers=executive.headers), 403, "auth.missing_permission")


async def test_create_numbers_normalizes_and_owns_by_the_caller(client, actors):
    manager = await actors.make("account_manager")
    admin = await actors.make("admin")
    await define_field(client, admin, "customer", "erp_no")
    await define_field(client, admin, "customer", "employees", "number")
    created = await make_customer(
        client,
        manager,
        phone="021-6234 5678",
        email="info@huaxin.cn",
        tags=["VIP", "华东", "VIP"],
        satisfaction=4,
        credit=5,
        registered_capital="5000000.5",
        custom_fields={"erp_no": "E-1", "employees": 120},
    )
    assert created["code"] == "KH00000001"
    assert created["owner_id"] == manager.id and created["created_by_id"] == manager.id
    assert created["status"] == "active"
    assert created["phone"] == "021-6234 5678" and created["phone_e164"] == "+862162345678"
    assert created["tags"] == sorted(["VIP", "华东"])
    assert created["registered_capital"] == "5000000.50"
    assert created["custom_fields"] == {"erp_no": "E-1", "employees": 120}
    second = await make_customer(client, manager, name="深圳华为技术有限公司")
    assert second["code"] == "KH00000002"

    fetched = await client.get(f"{BASE}/{created['id']}", headers=manager.headers)
    assert fetched.status_code == 200
    assert fetched.json() == created
    assert fetched.headers["etag"]


async def test_create_is_audited(client, actors):
    manager = await actors.make("account_manager")
    admin = await actors.make("admin")
    created = await make_customer(client, manager, tags=["VIP"])
    [event] = await audit_of(client, admin, "customer", created["id"])
    assert event["action"] == "create" and event["actor_id"] == manager.id
    assert event["changes"]["name"] == {"before": None, "after": created["name"]}
    assert event["changes"]["tags"] == {"before": None, "after": ["VIP"]}


@pytest.mark.parametrize(
    "body",
    [
        {"name": "A", "code": "KH9"},
        {"name": "A", "status": "churned"},
        {"name": "A", "owner_id": 1},
        {"name": "A", "favourite_colour": "red"},
        {"name": ""},
        {"region": "shanghai"},
        {"name": "A", "satisfaction": 0},
        {"name": "A", "credit": 6},
        {"name": "A", "email": "not-an-email"},
        {"name": "A", "registered_capital": "-1"},
    ],
)
async def test_invalid_bodies_are_422_and_write_nothing(client, actors, body):
    manager = await actors.make("account_manager")
    assert_problem(await client.post(BASE, json=body, headers=manager.headers), 422, "validation_failed")
    assert await customer_names(client, manager) == []


@pytest.mark.parametrize("field", ["region", "level", "industry"])
async def test_dictionary_fields_refuse_unknown_values(client, actors, field):
    manager = await actors.make("account_manager")
    response = await client.post(BASE, json={"name": "A", field: "atlantis"}, headers=manager.headers)
    problem = assert_problem(response, 422, "dictionary.unknown_value")
    assert problem["errors"][0]["field"] == field
    assert await customer_names(client, manager) == []


async def test_invalid_phone_is_422_on_that_field(client, actors):
    manager = await actors.make("account_manager")
    problem = assert_problem(
        await client.post(BASE, json={"name": "A", "phone": "12"}, headers=manager.headers), 422, "phone.invalid"
    )
    assert problem["errors"][0]["field"] == "phone"
    assert await customer_names(client, manager) == []


async def test_data_scopes(client, actors):
    a, b = await two_managers(actors)
    c = await actors.make("account_manager", team="south")
    east_supervisor = await actors.make("sales_supervisor", team="east")
    executive = await actors.make("executive")
    admin = await actors.make("admin")
    a_customer = await make_customer(client, a, name="A公司")
    await make_customer(client, b, name="B公司")
    await make_customer(client, c, name="C公司")

    assert await customer_names(client, a) == ["A公司"]
    assert_problem(await client.get(f"{BASE}/{a_customer['id']}", headers=b.headers), 404, "customer.not_found")
    assert_problem(await client.get(f"{BASE}/{a_customer['id']}", headers=c.headers), 404, "customer.not_found")
    assert await customer_names(client, east_supervisor) == ["B公司", "A公司"]
    assert await customer_names(client, executive) == ["C公司", "B公司", "A公司"]
    assert await customer_names(client, admin) == ["C公司", "B公司", "A公司"]
    assert (await client.get(f"{BASE}/{a_customer['id']}", headers=executive.headers)).status_code == 200
    assert_problem(await client.get(f"{BASE}/999999", headers=admin.headers), 404, "customer.not_found")


async def test_each_caller_reads_customers_in_their_own_scope(client, actors):
    """The read by id and the list are built once per shape of scope, the caller's ids their parameters: whoever read
    first, each caller gets their own customers and a 404 for the others'."""
    a, b = await two_managers(actors)
    east = await actors.make("sales_supervisor", team="east")
    south = await actors.make("sales_supervisor", team="south")
    a_customer = await make_customer(client, a, name="A公司")
    b_customer = await make_customer(client, b, name="B公司")

    for reader, own, other in ((a, a_customer, b_customer), (b, b_customer, a_customer), (a, a_customer, b_customer)):
        assert (await client.get(f"{BASE}/{own['id']}", headers=reader.headers)).json() == own
        assert await customer_names(client, reader) == [own["name"]]
        assert_problem(await client.get(f"{BASE}/{other['id']}", headers=reader.headers), 404, "customer.not_found")
    for supervisor, status in ((east, 200), (south, 404), (east, 200)):
        assert (await client.get(f"{BASE}/{a_customer['id']}", headers=supervisor.headers)).status_code == status
        assert len(await customer_names(client, supervisor)) == (2 if status == 200 else 0)


async def test_list_filters(client, actors, app):
    manager = await actors.make("account_manager")
    other = await actors.make("account_manager")
    admin = await actors.make("admin")
    huaxin = await make_customer(
        client, manager, name="上海华信科技有限公司", region="shanghai", level="major", phone="021-62345678", tags=["VIP"]
    )
    await make_customer(
        client, manager, name="北京远景贸易有限公司", region="beijing", level="regular", phone="010-87654321", tags=["华北"]
    )
    await make_customer(client, other, name="广州南方物流有限公司", region="guangdong", level="major", phone="020-11112222")
    await churn(app, huaxin["id"])

    assert await customer_names(client, manager, q="华信") == ["上海华信科技有限公司"]
    assert await customer_names(client, manager, q=huaxin["code"].lower()) == ["上海华信科技有限公司"]
    assert await customer_names(client, manager, q="87654321") == ["北京远景贸易有限公司"]
    assert await customer_names(client, manager, q="%") == []
    assert await customer_names(client, manager, region="beijing") == ["北京远景贸易有限公司"]
    assert await customer_names(client, admin, level="major") == ["广州南方物流有限公司", "上海华信科技有限公司"]
    assert await customer_names(client, admin, owner_id=other.id) == ["广州南方物流有限公司"]
    assert await customer_names(client, admin, status="churned") == ["上海华信科技有限公司"]
    assert await customer_names(client, admin, tag="华北") == ["北京远景贸易有限公司"]
    assert_problem(await client.get(BASE, params={"status": "asleep"}, headers=admin.headers), 422)


async def test_keyset_pagination_walks_every_customer_once(client, actors):
    manager = await actors.make("account_manager")
    for number in range(5):
        await make_customer(client, manager, name=f"客户{number}")
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(BASE, params=params, headers=manager.headers)).json()
        seen += [item["name"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"客户{n}" for n in reversed(range(5))]
    total = (await client.get(BASE, params={"with_total": True}, headers=manager.headers)).json()["total"]
    assert total == 5


async def test_service_create_needs_customers_write(session, actors):
    executive = await actors.make("executive")
    principal, _ = await principal_for_user(session, executive.id)
    with pytest.raises(Forbidden):
        await create_customer(session, principal, CustomerCreate(name="A"))


async def test_service_create_owns_by_the_actor(session, actors):
    manager = await actors.make("account_manager")
    principal, _ = await principal_for_user(session, manager.id)
    customer = (await create_customer(session, principal, CustomerCreate(name="杭州西湖电子有限公司"))).record
    assert customer.owner_id == manager.id and customer.code.startswith("KH") and customer.status == "active"
