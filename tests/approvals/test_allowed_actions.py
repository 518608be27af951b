"""allowed_actions on an approval request against what the API does, per caller and status."""

import pytest

from crm_api.approvals.policy import ApprovalAction
from tests.approvals.factories import API, define_flow, request_approval

STATUSES = ["pending", "approved", "rejected", "withdrawn"]
EXPECTED = {("requester", "pending"): {"withdraw"}, ("approver", "pending"): {"approve", "reject"}}
COMMENT = {"comment": "Because"}


@pytest.mark.parametrize("status", STATUSES)
async def test_allowed_actions_are_exactly_the_accepted_ones(client, actors, app, status):
    admin = await actors.make("admin")
    people = {
        "requester": await actors.make("account_manager", team="east"),
        "approver": await actors.make("sales_supervisor", team="east"),
        "executive": await actors.make("executive"),
        "admin": admin,
    }
    await define_flow(client, admin)
    subject_ids = iter(range(1, 100))

    async def request_in() -> int:
        request_id = await request_approval(app, people["requester"], next(subject_ids))
        settle = {"approved": ("approve", "approver"), "rejected": ("reject", "approver"), "withdrawn": ("withdraw", "requester")}
        if status in settle:
            action, who = settle[status]
            response = await client.post(f"{API}/{request_id}/{action}", json=COMMENT, headers=people[who].headers)
            assert response.status_code == 200, response.text
        return request_id

    for caller, actor in people.items():
        shown = await request_in()
        listed = (await client.get(f"{API}/{shown}", headers=actor.headers)).json()["allowed_actions"]
        assert set(listed) == EXPECTED.get((caller, status), set()), (caller, status)
        target = shown
        for action in ApprovalAction:
            response = await client.post(f"{API}/{target}/{action}", json=COMMENT, headers=actor.headers)
            if action.value in listed:
                assert response.status_code == 200, (caller, status, action, response.text)
                target = await request_in()
            else:
                assert response.status_code in {403, 409}, (caller, status, action, response.text)
