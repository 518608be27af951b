"""allowed_actions against what the API really does, for every kind of caller and every status."""

import pytest

from crm_api.opportunities.policy import OpportunityAction
from tests.opportunities.factories import API, opportunity_in

STATUSES = ["unassigned", "assigned", "won", "lost"]
CALLERS = ["creator", "assignee", "supervisor", "admin", "executive", "other_supervisor_of_assignee"]

# What each caller may do in each status, as the source requirements state it.
EXPECTED = {
    ("creator", "unassigned"): {"edit", "delete"},
    ("supervisor", "unassigned"): {"edit", "assign"},
    ("admin", "unassigned"): {"edit", "assign"},
    ("assignee", "assigned"): {"plan", "stage", "win", "lose"},
}


def _attempt(client, action: str, opportunity_id: int, headers: dict[str, str], assignee_id: int):
    url = f"{API}/{opportunity_id}"
    match action:
        case OpportunityAction.EDIT:
            return client.patch(url, json={"summary": "Changed"}, headers=headers)
        case OpportunityAction.DELETE:
            return client.delete(url, headers=headers)
        case OpportunityAction.ASSIGN:
            return client.post(f"{url}/assign", json={"assignee_id": assignee_id}, headers=headers)
        case OpportunityAction.PLAN:
            return client.post(f"{url}/plan-items", json={"planned_on": "2026-07-01", "content": "Call"}, headers=headers)
        case OpportunityAction.STAGE:
            return client.post(f"{url}/stage", json={"stage": "proposal"}, headers=headers)
        case OpportunityAction.WIN:
            return client.post(f"{url}/win", headers=headers)
        case OpportunityAction.LOSE:
            return client.post(f"{url}/lose", headers=headers)
    raise AssertionError(action)


@pytest.mark.parametrize("status", STATUSES)
async def test_allowed_actions_are_exactly_the_accepted_ones(client, actors, status):
    people = {
        "creator": await actors.make("account_manager", team="east"),
        "supervisor": await actors.make("sales_supervisor", team="east"),
        "assignee": await actors.make("account_manager", team="south"),
        "other_supervisor_of_assignee": await actors.make("sales_supervisor", team="south"),
        "admin": await actors.make("admin"),
        "executive": await actors.make("executive"),
    }
    roles = {"creator": people["creator"], "supervisor": people["supervisor"], "assignee": people["assignee"]}
    for caller in CALLERS:
        headers = people[caller].headers
        shown = await opportunity_in(client, status, **roles)
        got = await client.get(f"{API}/{shown['id']}", headers=headers)
        if status == "unassigned" and caller in {"assignee", "other_supervisor_of_assignee"}:
            assert got.status_code == 404  # not theirs yet: nothing to act on
            continue
        listed = got.json()["allowed_actions"]
        assert set(listed) == EXPECTED.get((caller, status), set()), (caller, status)
        target = shown
        for action in OpportunityAction:
            response = await _attempt(client, action, target["id"], headers, people["assignee"].id)
            if action.value in listed:
                assert response.status_code in {200, 201, 204}, (caller, status, action, response.text)
                target = await opportunity_in(client, status, **roles)  # the accepted action changed this one
            else:
                assert response.status_code in {403, 409}, (caller, status, action, response.text)
        if target is shown:  # every action was refused, and none left a trace
            after = (await client.get(f"{API}/{shown['id']}", headers=headers)).json()
            assert (after["status"], after["updated_at"]) == (shown["status"], shown["updated_at"])
