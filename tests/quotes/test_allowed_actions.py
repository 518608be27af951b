"""allowed_actions against what the API really does, for every kind of caller and every quote status."""

import pytest

from crm_api.quotes.policy import QuoteAction
from tests.quotes.factories import API, Desk, supervisor_flow

STATUSES = ["draft", "pending_approval", "approved", "sent", "accepted", "rejected", "revised"]
EXPECTED = {
    ("owner", "draft"): {"edit", "submit"},
    ("owner", "approved"): {"send", "revise"},
    ("owner", "sent"): {"accept", "reject", "revise"},
}
ANSWER = {"answered_by": "王经理"}


async def _quote_in(desk: Desk, status: str) -> dict:
    quote = await desk.quote(discount="30" if status == "pending_approval" else "0")
    steps = {
        "draft": [],
        "pending_approval": ["submit"],
        "approved": ["submit"],
        "sent": ["submit", "send"],
        "accepted": ["submit", "send", "accept"],
        "rejected": ["submit", "send", "reject"],
        "revised": ["submit", "revise"],
    }[status]
    for action in steps:
        response = await desk.act(quote["id"], action, **(ANSWER if action in {"accept", "reject"} else {}))
        assert response.status_code in {200, 201}, response.text
    return (await desk.client.get(f"{API}/{quote['id']}", headers=desk.manager.headers)).json()


def _attempt(desk: Desk, action: QuoteAction, quote_id: int, headers: dict[str, str]):
    url = f"{API}/{quote_id}"
    if action == QuoteAction.EDIT:
        return desk.client.patch(url, json={"title": "改"}, headers=headers)
    body = ANSWER if action in {QuoteAction.ACCEPT, QuoteAction.REJECT} else None
    return desk.client.post(f"{url}/{action}", json=body, headers=headers)


@pytest.mark.parametrize("status", STATUSES)
async def test_allowed_actions_are_exactly_the_accepted_ones(client, actors, status):
    desk = await Desk(client, actors).set_up()
    await supervisor_flow(client, desk.admin)
    callers = {
        "owner": desk.manager,
        "supervisor": desk.supervisor,
        "admin": desk.admin,
        "executive": await actors.make("executive"),
    }
    for caller, actor in callers.items():
        shown = await _quote_in(desk, status)
        listed = (await client.get(f"{API}/{shown['id']}", headers=actor.headers)).json()["allowed_actions"]
        assert set(listed) == EXPECTED.get((caller, status), set()), (caller, status)
        target = shown
        for action in QuoteAction:
            response = await _attempt(desk, action, target["id"], actor.headers)
            if action.value in listed:
                assert response.status_code in {200, 201}, (caller, status, action, response.text)
                target = await _quote_in(desk, status)
            else:
                assert response.status_code in {403, 409}, (caller, status, action, response.text)
        if target is shown:
            after = (await client.get(f"{API}/{shown['id']}", headers=actor.headers)).json()
            assert (after["status"], after["version"]) == (shown["status"], shown["version"])
