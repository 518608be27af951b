"""Domains publish into the outbox in their own transaction: a rollback publishes nothing."""

from datetime import UTC, date, datetime, timedelta

from crm_api.churn.jobs import CHURN_SCAN
from crm_api.core.clock import clock
from crm_api.core.outbox import publish
from crm_api.core.scheduler import JOBS, run_job
from crm_api.models.customer import Customer
from tests.churn.factories import make_customer, make_order, make_warning
from tests.factories import assert_problem
from tests.opportunities.factories import API as OPPORTUNITIES
from tests.opportunities.factories import count_rows, opportunity_in
from tests.tickets.factories import assign, feedback, handle, open_ticket
from tests.webhooks.factories import outbox


async def _pipeline(actors):
    team = "East"
    return (
        await actors.make("account_manager", team=team),
        await actors.make("sales_supervisor", team=team),
        await actors.make("account_manager", team=team),
    )


async def test_a_win_that_fails_publishes_nothing(app, client, actors):
    creator, supervisor, assignee = await _pipeline(actors)
    opportunity = await opportunity_in(
        client, "assigned", creator=creator, supervisor=supervisor, assignee=assignee, contact_phone="not a phone"
    )
    published = [e.id for e in await outbox(app)]
    refused = await client.post(f"{OPPORTUNITIES}/{opportunity['id']}/win", headers=assignee.headers)
    assert_problem(refused, 422, "phone.invalid")
    # The customer was created (and its event published) before the contact failed: all of it rolled back.
    assert [e.id for e in await outbox(app)] == published and await count_rows(app, Customer) == 0


async def test_a_committed_win_publishes_exactly_one_event(app, client, actors, frozen_clock):
    creator, supervisor, assignee = await _pipeline(actors)
    won = await opportunity_in(client, "won", creator=creator, supervisor=supervisor, assignee=assignee)
    [event] = await outbox(app, "opportunity.won")
    assert (event.entity_type, event.entity_id, event.occurred_at) == ("opportunity", str(won["id"]), frozen_clock)
    assert event.payload["status"] == "won" and event.payload["customer_id"] == won["customer_id"]
    assert event.payload["expected_amount"] == "120000.00" and "allowed_actions" not in event.payload
    assert event.dispatched_at is None
    [created] = await outbox(app, "customer.created")
    assert created.entity_id == str(won["customer_id"]) and created.payload["name"] == won["customer_name"]
    business = {"customer.created", "opportunity.won", "opportunity.lost"}
    assert [e.event_type for e in await outbox(app) if e.event_type in business] == ["customer.created", "opportunity.won"]


async def test_a_loss_publishes_opportunity_lost(app, client, actors):
    creator, supervisor, assignee = await _pipeline(actors)
    lost = await opportunity_in(client, "lost", creator=creator, supervisor=supervisor, assignee=assignee)
    [event] = await outbox(app, "opportunity.lost")
    assert (event.event_type, event.entity_id, event.payload["status"]) == ("opportunity.lost", str(lost["id"]), "lost")
    assert await outbox(app, "opportunity.won") == []


async def test_archiving_a_ticket_publishes_ticket_archived_and_reopening_does_not(app, client, actors):
    manager = await actors.make("account_manager", team="Service")
    supervisor = await actors.make("sales_supervisor", team="Service")
    ticket = await open_ticket(client, manager, await make_customer(app, manager.id))
    assert (await assign(client, supervisor, ticket["id"], manager.id)).status_code == 200
    assert (await handle(client, manager, ticket["id"])).status_code == 200
    assert (await feedback(client, manager, ticket["id"], 2)).status_code == 200
    assert await outbox(app, "ticket.archived") == []
    assert (await handle(client, manager, ticket["id"])).status_code == 200
    assert (await feedback(client, manager, ticket["id"], 5)).status_code == 200
    [event] = await outbox(app, "ticket.archived")
    assert (event.event_type, event.entity_type, event.entity_id) == ("ticket.archived", "service_ticket", str(ticket["id"]))
    assert event.payload["status"] == "archived"


async def test_the_churn_scan_publishes_one_event_per_opened_warning(app, settings, actors, frozen_clock):
    owner = await actors.make("account_manager")
    stale = [await make_customer(app, owner.id, created_at=datetime(2024, 1, 1, tzinfo=UTC)) for _ in range(3)]
    await make_order(app, stale[0], date(2025, 1, 1))
    already_warned = await make_customer(app, owner.id, created_at=datetime(2024, 1, 1, tzinfo=UTC))
    await make_warning(app, already_warned)
    await make_customer(app, owner.id)  # new: not inactive
    clock.advance(timedelta(hours=1))

    assert (await run_job(app.state.db, settings, JOBS[CHURN_SCAN])).counts == {"opened": 3}
    events = await outbox(app, "churn_warning.opened")
    assert sorted(e.payload["customer_id"] for e in events) == stale
    assert {e.entity_id for e in events} == {str(e.payload["warning_id"]) for e in events}
    by_customer = {e.payload["customer_id"]: e.payload for e in events}
    assert by_customer[stale[0]]["last_order_date"] == "2025-01-01" and by_customer[stale[1]]["last_order_date"] is None
    assert all(e.occurred_at == frozen_clock + timedelta(hours=1) for e in events)

    # The same instant again (a retried run): no warning opened, nothing published twice.
    assert (await run_job(app.state.db, settings, JOBS[CHURN_SCAN])).counts == {"opened": 0}
    assert len(await outbox(app, "churn_warning.opened")) == 3


async def test_confirming_churn_publishes_churn_warning_confirmed(app, client, actors):
    owner = await actors.make("account_manager")
    warning_id = await make_warning(app, await make_customer(app, owner.id))
    url = f"/api/v1/churn-warnings/{warning_id}"
    assert (await client.post(f"{url}/measures", json={"measure": "回访"}, headers=owner.headers)).status_code == 200
    assert await outbox(app) == []
    assert (await client.post(f"{url}/confirm", json={"reason": "转向竞争对手"}, headers=owner.headers)).status_code == 200
    [event] = await outbox(app)
    assert (event.event_type, event.entity_id) == ("churn_warning.confirmed", str(warning_id))
    assert event.payload["status"] == "confirmed" and event.payload["confirm_reason"] == "转向竞争对手"


async def test_creating_a_customer_publishes_customer_created(app, client, actors):
    manager = await actors.make("account_manager")
    response = await client.post("/api/v1/customers", json={"name": "杭州新风科技有限公司"}, headers=manager.headers)
    assert response.status_code == 201, response.text
    [event] = await outbox(app)
    assert (event.event_type, event.entity_id) == ("customer.created", str(response.json()["id"]))
    assert event.payload["owner_id"] == manager.id


async def test_publish_in_a_rolled_back_session_leaves_no_row(app):
    class Abort(Exception):
        pass

    try:
        async with app.state.db.sessionmaker() as session, session.begin():
            await publish(
                session, event_type="customer.created", entity_type="customer", entity_id=1, payload={"at": date(2026, 1, 2)}
            )
            await session.flush()
            raise Abort
    except Abort:
        pass
    assert await outbox(app) == []
    async with app.state.db.sessionmaker() as session, session.begin():
        await publish(
            session, event_type="customer.created", entity_type="customer", entity_id=1, payload={"at": date(2026, 1, 2)}
        )
    [event] = await outbox(app)
    assert event.payload == {"at": "2026-01-02"}
