"""allowed_actions tells the truth: an action is listed exactly when the service accepts it."""

import pytest

from tests.churn.factories import make_customer
from tests.tickets.factories import URL, assign, feedback, handle, open_ticket

ACTIONS = {
    "assign": lambda client, actor, ticket_id, people: assign(client, actor, ticket_id, people["engineer"].id),
    "handle": lambda client, actor, ticket_id, people: handle(client, actor, ticket_id),
    "feedback": lambda client, actor, ticket_id, people: feedback(client, actor, ticket_id, 4),
}


async def _ticket_in(status: str, client, people, customer_id: int) -> int:
    ticket_id = (await open_ticket(client, people["manager"], customer_id))["id"]
    if status in ("assigned", "handled", "archived"):
        await assign(client, people["supervisor"], ticket_id, people["engineer"].id)
    if status in ("handled", "archived"):
        await handle(client, people["engineer"], ticket_id)
    if status == "archived":
        await feedback(client, people["manager"], ticket_id, 5)
    return ticket_id


@pytest.mark.parametrize("status", ["new", "assigned", "handled", "archived"])
async def test_ticket_allowed_actions_match_what_the_service_accepts(app, client, actors, status):
    people = {
        "manager": await actors.make("account_manager", team="East"),
        "engineer": await actors.make("account_manager", team="East"),
        "supervisor": await actors.make("sales_supervisor", team="East"),
    }
    customer_id = await make_customer(app, people["manager"].id)
    for who, actor in people.items():
        for action, perform in ACTIONS.items():
            ticket_id = await _ticket_in(status, client, people, customer_id)
            detail = await client.get(f"{URL}/{ticket_id}", headers=actor.headers)
            shown = detail.json()["allowed_actions"] if detail.status_code == 200 else []  # unseen: nothing allowed
            response = await perform(client, actor, ticket_id, people)
            assert (action in shown) == (response.status_code == 200), (status, who, action, response.text)
