"""Records name what their ids point at, so a caller needs no lookup it may not be allowed to make (SPEC §4)."""

from tests.customers.factories import make_contact, make_customer, make_interaction
from tests.factories import count_statements
from tests.tickets.factories import URL as TICKETS
from tests.tickets.factories import assign, open_ticket

CUSTOMERS = "/api/v1/customers"


async def test_an_account_manager_sees_who_a_ticket_is_assigned_to_without_reading_users(client, actors):
    supervisor = await actors.make("sales_supervisor", team="East")
    manager = await actors.make("account_manager", team="East")
    colleague = await actors.make("account_manager", team="East")
    customer = await make_customer(client, manager, name="上海华信科技有限公司")
    ticket = await open_ticket(client, manager, customer["id"])
    assert ticket["customer_name"] == "上海华信科技有限公司"
    assert ticket["created_by_name"] == manager.username.title() and ticket["assignee_name"] is None

    assigned = await assign(client, supervisor, ticket["id"], colleague.id)
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["assignee_name"] == colleague.username.title()

    # The manager may not read users, yet every view of the ticket names its assignee.
    assert (await client.get(f"/api/v1/users/{colleague.id}", headers=manager.headers)).status_code == 403
    listed = (await client.get(TICKETS, headers=manager.headers)).json()["items"]
    one = (await client.get(f"{TICKETS}/{ticket['id']}", headers=manager.headers)).json()
    for seen in (next(item for item in listed if item["id"] == ticket["id"]), one):
        assert (seen["assignee_id"], seen["assignee_name"]) == (colleague.id, colleague.username.title())
        assert seen["customer_name"] == "上海华信科技有限公司"


async def test_a_customer_names_its_owner_through_transfer_release_and_claim(client, actors):
    supervisor = await actors.make("sales_supervisor", team="East")
    manager = await actors.make("account_manager", team="East")
    colleague = await actors.make("account_manager", team="East")
    customer = await make_customer(client, manager, name="杭州云栖网络有限公司")
    assert customer["owner_name"] == customer["created_by_name"] == manager.username.title()

    transferred = await client.post(
        f"{CUSTOMERS}/{customer['id']}/transfer", json={"owner_id": colleague.id}, headers=supervisor.headers
    )
    assert transferred.status_code == 200, transferred.text
    assert transferred.json()["owner_name"] == colleague.username.title()
    assert transferred.json()["created_by_name"] == manager.username.title()
    listed = (await client.get(CUSTOMERS, headers=colleague.headers)).json()["items"]
    assert [(item["owner_id"], item["owner_name"]) for item in listed] == [(colleague.id, colleague.username.title())]

    released = await client.post(f"{CUSTOMERS}/{customer['id']}/release", json={"reason": "不再跟进"}, headers=colleague.headers)
    assert released.status_code == 200, released.text
    assert released.json()["owner_name"] is None
    claimed = await client.post(f"{CUSTOMERS}/{customer['id']}/claim", headers=manager.headers)
    assert claimed.status_code == 200, claimed.text
    assert (claimed.json()["owner_id"], claimed.json()["owner_name"]) == (manager.id, manager.username.title())
    got = (await client.get(f"{CUSTOMERS}/{customer['id']}", headers=manager.headers)).json()
    assert got["owner_name"] == manager.username.title()


async def test_contacts_and_interactions_name_their_customer_and_author(client, actors):
    manager = await actors.make("account_manager")
    customer = await make_customer(client, manager, name="南京紫金软件有限公司")
    contact = await make_contact(client, manager, customer["id"])
    interaction = await make_interaction(client, manager, customer["id"])
    assert contact["customer_name"] == interaction["customer_name"] == "南京紫金软件有限公司"
    assert interaction["created_by_name"] == manager.username.title()
    renamed = await client.patch(
        f"{CUSTOMERS}/{customer['id']}", json={"name": "南京紫金云软件有限公司"}, headers=manager.headers | {"If-Match": '"1"'}
    )
    assert renamed.status_code == 200, renamed.text
    for path in ("contacts", "interactions"):
        items = (await client.get(f"{CUSTOMERS}/{customer['id']}/{path}", headers=manager.headers)).json()["items"]
        assert [item["customer_name"] for item in items] == ["南京紫金云软件有限公司"]


async def test_a_customer_and_a_page_of_them_are_read_with_their_names_in_one_statement(app, client, actors):
    manager = await actors.make("account_manager")
    customers = [await make_customer(client, manager, name=f"苏州第{n}有限公司") for n in range(3)]
    with count_statements(app.state.db.engine) as statements:
        got = await client.get(f"{CUSTOMERS}/{customers[0]['id']}", headers=manager.headers)
    assert got.json()["owner_name"] == manager.username.title()
    assert len([s for s in statements if "FROM customers" in s and "users.full_name" in s]) == 1
    assert not [s for s in statements if s.lstrip().startswith("SELECT users.id, users.full_name")]
    with count_statements(app.state.db.engine) as statements:
        page = await client.get(CUSTOMERS, headers=manager.headers)
    assert {item["owner_name"] for item in page.json()["items"]} == {manager.username.title()}
    assert not [s for s in statements if s.lstrip().startswith("SELECT users.id, users.full_name")]
