from sqlalchemy import select

from crm_api.models.customer import Contact, Customer
from crm_api.models.pipeline import Opportunity
from crm_api.models.platform import AuditEvent
from tests.factories import assert_problem
from tests.opportunities.factories import API, count_rows, opportunity_in


async def _people(actors):
    creator = await actors.make("account_manager", team="east")
    supervisor = await actors.make("sales_supervisor", team="east")
    assignee = await actors.make("account_manager", team="east")
    return creator, supervisor, assignee


async def test_the_assignee_wins_and_the_customer_is_created_with_its_first_contact(client, actors, app):
    creator, supervisor, assignee = await _people(actors)
    opportunity = await opportunity_in(client, "assigned", creator=creator, supervisor=supervisor, assignee=assignee)
    url = f"{API}/{opportunity['id']}"
    assert_problem(await client.post(f"{url}/win", headers=creator.headers), 403, "opportunity.not_assignee")
    assert_problem(await client.post(f"{url}/win", headers=supervisor.headers), 403, "auth.missing_permission")
    assert await count_rows(app, Customer) == 0

    won = await client.post(f"{url}/win", json={"contact_title": "采购经理", "contact_gender": "male"}, headers=assignee.headers)
    assert won.status_code == 200, won.text
    body = won.json()
    assert body["opportunity"]["status"] == "won"
    assert body["opportunity"]["allowed_actions"] == []
    customer = body["customer"]
    assert customer["name"] == opportunity["customer_name"]
    assert customer["owner_id"] == assignee.id
    assert customer["code"].startswith("KH")
    assert body["opportunity"]["customer_id"] == customer["id"]
    async with app.state.db.sessionmaker() as session:
        contacts = (await session.scalars(select(Contact).where(Contact.customer_id == customer["id"]))).all()
    assert [(c.name, c.office_phone, c.title, c.gender) for c in contacts] == [("王强", "13800138000", "采购经理", "male")]
    seen = await client.get(f"/api/v1/customers/{customer['id']}", headers=assignee.headers)
    assert seen.status_code == 200

    assert_problem(await client.post(f"{url}/win", headers=assignee.headers), 409, "opportunity.closed")
    assert_problem(await client.post(f"{url}/lose", headers=assignee.headers), 409, "opportunity.closed")
    assert await count_rows(app, Customer) == 1
    async with app.state.db.sessionmaker() as session:
        trail = (await session.execute(select(AuditEvent.entity_type, AuditEvent.action).order_by(AuditEvent.id))).all()
    assert trail[-3:] == [("customer", "create"), ("contact", "create"), ("opportunity", "win")]


async def test_a_failure_while_creating_the_customer_leaves_the_opportunity_assigned(client, actors, app):
    creator, supervisor, assignee = await _people(actors)
    opportunity = await opportunity_in(
        client, "assigned", creator=creator, supervisor=supervisor, assignee=assignee, contact_phone="not a phone"
    )
    url = f"{API}/{opportunity['id']}"
    assert_problem(await client.post(f"{url}/win", headers=assignee.headers), 422, "phone.invalid")
    assert (await client.get(url, headers=assignee.headers)).json()["status"] == "assigned"
    assert await count_rows(app, Customer) == 0
    assert await count_rows(app, Contact) == 0
    # The assignee corrects the phone and wins.
    won = await client.post(f"{url}/win", json={"contact_phone": "021-6234 5678"}, headers=assignee.headers)
    assert won.status_code == 200
    assert await count_rows(app, Customer) == 1


async def test_win_needs_a_contact_phone_when_there_is_a_contact(client, actors, app):
    creator, supervisor, assignee = await _people(actors)
    opportunity = await opportunity_in(
        client, "assigned", creator=creator, supervisor=supervisor, assignee=assignee, contact_phone=None
    )
    refused = await client.post(f"{API}/{opportunity['id']}/win", headers=assignee.headers)
    assert_problem(refused, 422, "opportunity.contact_phone_required")
    assert await count_rows(app, Customer) == 0
    nobody = await opportunity_in(
        client, "assigned", creator=creator, supervisor=supervisor, assignee=assignee, contact_name=None, contact_phone=None
    )
    assert (await client.post(f"{API}/{nobody['id']}/win", headers=assignee.headers)).status_code == 200
    async with app.state.db.sessionmaker() as session:
        won = await session.get(Opportunity, nobody["id"])
        assert won is not None and won.status == "won"
    assert await count_rows(app, Contact) == 0
