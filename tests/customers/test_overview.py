from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from crm_api.core.permissions import Principal, Scope
from crm_api.models.pipeline import Opportunity
from crm_api.models.sales import Order
from crm_api.read.customer_360.service import customer_overview
from tests.custom_fields.factories import define_field
from tests.customers.factories import (
    BASE,
    assert_guarded,
    churn,
    make_contact,
    make_customer,
    make_interaction,
    two_managers,
)
from tests.factories import count_statements
from tests.tickets.factories import open_ticket


async def _add_orders(app, customer_id, orders):
    """Orders as the sales-system ingest would leave them: (status, date, total)."""
    async with app.state.db.sessionmaker() as session, session.begin():
        for status, order_date, total in orders:
            number = f"SO-{customer_id}-{order_date.isoformat()}-{status}-{total}"
            session.add(
                Order(
                    external_id=number,
                    number=number,
                    customer_id=customer_id,
                    order_date=order_date,
                    status=status,
                    total=Decimal(total),
                )
            )


async def test_overview_needs_auth_permission_and_scope(client, actors):
    a, b = await two_managers(actors)
    marketer = await actors.make("marketer")
    customer = await make_customer(client, a)
    url = f"{BASE}/{customer['id']}/overview"
    await assert_guarded(client, "GET", url, wrong_role=marketer, outsider=b)


async def test_overview_assembles_the_customer(client, actors, app):
    manager = await actors.make("account_manager")
    customer = await make_customer(client, manager, tags=["VIP"])
    contact = await make_contact(client, manager, customer["id"])
    start = date(2026, 1, 1)
    for day in range(12):
        await make_interaction(
            client, manager, customer["id"], occurred_on=(start + timedelta(days=day)).isoformat(), summary=f"拜访{day}"
        )
    await _add_orders(
        app,
        customer["id"],
        [
            (5, date(2026, 3, 1), "1200.50"),
            (6, date(2026, 4, 2), "800.25"),
            (4, date(2026, 5, 3), "9999.00"),
            (1, date(2026, 6, 1), "10.00"),
        ],
    )
    other = await make_customer(client, manager, name="别的公司")
    await _add_orders(app, other["id"], [(6, date(2026, 6, 5), "5.00")])
    await churn(app, customer["id"])

    response = await client.get(f"{BASE}/{customer['id']}/overview", headers=manager.headers)
    assert response.status_code == 200, response.text
    overview = response.json()
    assert overview["profile"]["id"] == customer["id"] and overview["profile"]["name"] == customer["name"]
    assert overview["contacts"] == [contact]
    assert [i["summary"] for i in overview["latest_interactions"]] == [f"拜访{day}" for day in range(11, 1, -1)]
    assert overview["orders"] == {"count": 2, "total": "2000.75", "last_order_date": "2026-04-02"}
    assert overview["churn_status"] == "churned"
    assert overview["tags"] == ["VIP"]
    assert overview["open_opportunities"] == [] and overview["open_tickets"] == []  # none opened yet


async def test_overview_of_a_customer_without_orders(client, actors):
    manager = await actors.make("account_manager")
    customer = await make_customer(client, manager)
    overview = (await client.get(f"{BASE}/{customer['id']}/overview", headers=manager.headers)).json()
    assert overview["orders"] == {"count": 0, "total": "0.00", "last_order_date": None}
    assert overview["contacts"] == [] and overview["latest_interactions"] == []


async def test_overview_runs_a_fixed_number_of_statements(client, actors, app):
    manager = await actors.make("account_manager")
    customer = await make_customer(client, manager, tags=["VIP", "华东"])
    url = f"{BASE}/{customer['id']}/overview"

    async def statements_for_overview():
        with count_statements(app.state.db.engine) as statements:
            assert (await client.get(url, headers=manager.headers)).status_code == 200
        return len(statements)

    await make_contact(client, manager, customer["id"])
    await make_interaction(client, manager, customer["id"])
    small = await statements_for_overview()
    for number in range(8):
        await make_contact(client, manager, customer["id"], name=f"联系人{number}")
        await make_interaction(client, manager, customer["id"], summary=f"拜访{number}")
    await _add_orders(app, customer["id"], [(6, date(2026, 1, 1) + timedelta(days=n), "100.00") for n in range(8)])
    assert await statements_for_overview() == small == 1  # the customer with every section as a column


async def test_overview_lists_the_open_tickets_and_opportunities_of_the_customer(client, actors, app):
    manager = await actors.make("account_manager")
    customer = await make_customer(client, manager)
    ticket = await open_ticket(client, manager, customer["id"], summary="设备无法开机")
    other = await make_customer(client, manager, name="别的公司")
    await open_ticket(client, manager, other["id"])
    async with app.state.db.sessionmaker() as session, session.begin():
        for status in ("assigned", "won"):
            session.add(
                Opportunity(
                    code=f"JH-{status}",
                    customer_name=customer["name"],
                    customer_id=customer["id"],
                    success_probability=50,
                    summary=f"增购 {status}",
                    description="二期扩容",
                    stage="proposal",
                    status=status,
                    created_by_id=manager.id,
                )
            )

    overview = (await client.get(f"{BASE}/{customer['id']}/overview", headers=manager.headers)).json()
    assert overview["open_tickets"] == [{"id": ticket["id"], "code": ticket["code"], "summary": "设备无法开机", "status": "new"}]
    assert [o["summary"] for o in overview["open_opportunities"]] == ["增购 assigned"]


async def test_overview_shows_each_record_as_its_own_read_does(client, actors):
    """The sections are read as JSON inside the overview's statement: a timestamp keeps its microseconds and its UTC,
    a check-in its coordinates, a custom field its document, an offline create its UUID."""
    admin = await actors.make("admin")
    manager = await actors.make("account_manager")
    await define_field(client, admin, "contact", "hobby")
    customer = await make_customer(client, manager)
    contact = await make_contact(
        client, manager, customer["id"], custom_fields={"hobby": "围棋"}, client_id="0b6f1c2e-8d3a-4f5e-9a7b-1c2d3e4f5a6b"
    )
    check_in = {"latitude": 31.2304, "longitude": 121.4737, "accuracy_m": 15.5, "checked_in_at": "2026-06-01T02:30:00.125000Z"}
    visit = await make_interaction(client, manager, customer["id"], check_in=check_in, notes=None)
    plain = await make_interaction(client, manager, customer["id"], occurred_on="2026-05-01")

    overview = (await client.get(f"{BASE}/{customer['id']}/overview", headers=manager.headers)).json()
    read = (await client.get(f"{BASE}/{customer['id']}", headers=manager.headers)).json()
    assert overview["profile"] == read
    assert overview["contacts"] == [contact] and contact["custom_fields"] == {"hobby": "围棋"}
    assert overview["latest_interactions"] == [visit, plain] and visit["check_in"] == check_in
    assert contact["created_at"].endswith("Z") and "." in visit["created_at"]


async def test_a_caller_without_a_sections_permission_finds_it_empty(app, client, actors):
    """A section the caller may not read is left out of the statement, and its field is empty."""
    manager = await actors.make("account_manager")
    customer = await make_customer(client, manager)
    await open_ticket(client, manager, customer["id"])
    reader = Principal(user_id=manager.id, name="reader", team_id=None, roles=(), permissions={"customers:read": Scope.ALL})
    async with app.state.db.reader() as session:
        overview = await customer_overview(session, reader, customer["id"])
        with_tickets = await customer_overview(
            session, replace(reader, permissions=reader.permissions | {"tickets:read": Scope.ALL}), customer["id"]
        )
    assert overview.profile.id == customer["id"] and overview.open_tickets == [] and overview.open_opportunities == []
    assert [ticket.status for ticket in with_tickets.open_tickets] == ["new"] and with_tickets.open_opportunities == []
