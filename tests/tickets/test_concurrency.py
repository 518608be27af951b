"""Of N identical ticket transitions at once exactly one wins; the rest get 409 and leave no history (PostgreSQL)."""

from crm_api.models.ticket import ServiceTicket, TicketAssignment, TicketFeedback, TicketHandling
from tests.churn.factories import make_customer
from tests.concurrency import RACERS, audited, losers_codes, published, race, skip_unless_postgresql, statuses
from tests.opportunities.factories import count_rows
from tests.tickets.factories import URL, assign, feedback, handle, open_ticket


async def _ticket_in(app, client, actors, status: str):
    creator = await actors.make("account_manager", team="East")
    supervisor = await actors.make("sales_supervisor", team="East")
    assignee = await actors.make("account_manager", team="East")
    ticket_id = (await open_ticket(client, creator, await make_customer(app, creator.id)))["id"]
    if status in ("assigned", "handled"):
        assert (await assign(client, supervisor, ticket_id, assignee.id)).status_code == 200
    if status == "handled":
        assert (await handle(client, assignee, ticket_id)).status_code == 200
    return ticket_id, creator, supervisor, assignee


async def test_concurrent_assigns_each_leave_one_history_row(app, client, actors, settings):
    """Re-assigning is allowed, so a request that reads after a winner committed may win too; none is lost."""
    skip_unless_postgresql(settings)
    ticket_id, _, supervisor, _ = await _ticket_in(app, client, actors, "new")
    candidates = [await actors.make("account_manager", team="East") for _ in range(RACERS)]

    responses = await race(lambda n: assign(client, supervisor, ticket_id, candidates[n].id))

    won = statuses(responses)[200]
    assert won >= 1 and statuses(responses)[409] == RACERS - won
    assert losers_codes(responses) <= {"service_ticket.changed"}
    assert await count_rows(app, TicketAssignment) == won == await audited(app, "service_ticket", "assign")
    current = (await client.get(f"{URL}/{ticket_id}", headers=supervisor.headers)).json()
    assert current["assignments"][-1]["assignee_id"] == current["assignee_id"]
    assert current["version"] == 1 + won


async def test_concurrent_handles_handle_once(app, client, actors, settings):
    skip_unless_postgresql(settings)
    ticket_id, _, _, assignee = await _ticket_in(app, client, actors, "assigned")

    responses = await race(lambda _: handle(client, assignee, ticket_id))

    assert statuses(responses) == {200: 1, 409: RACERS - 1}
    assert losers_codes(responses) <= {"service_ticket.changed", "service_ticket.not_assigned"}
    assert await count_rows(app, TicketHandling) == 1
    assert await audited(app, "service_ticket", "handle") == 1


async def test_concurrent_feedback_archives_once(app, client, actors, settings):
    skip_unless_postgresql(settings)
    ticket_id, creator, _, _ = await _ticket_in(app, client, actors, "handled")

    responses = await race(lambda _: feedback(client, creator, ticket_id, 5))

    assert statuses(responses) == {200: 1, 409: RACERS - 1}
    assert losers_codes(responses) <= {"service_ticket.changed", "service_ticket.not_handled"}
    assert await count_rows(app, TicketFeedback) == 1
    assert await audited(app, "service_ticket", "archive") == 1
    assert await published(app, "ticket.archived") == 1


async def test_concurrent_mixed_feedback_leaves_a_consistent_ticket(app, client, actors, settings):
    skip_unless_postgresql(settings)
    ticket_id, creator, _, _ = await _ticket_in(app, client, actors, "handled")

    responses = await race(lambda n: feedback(client, creator, ticket_id, 5 if n % 2 else 1))

    assert statuses(responses) == {200: 1, 409: RACERS - 1}
    assert await count_rows(app, TicketFeedback) == 1
    async with app.state.db.sessionmaker() as session:
        ticket = await session.get(ServiceTicket, ticket_id)
    archived = await published(app, "ticket.archived")
    assert (ticket.status == "archived") == (ticket.archived_at is not None) == (archived == 1)
    assert ticket.status in ("archived", "assigned")
