"""Who hears of an approval in the message centre: the current step's approvers while it is pending, the requester
once it is settled — each in the transaction of the submission or decision."""

import pytest

from tests.approvals.factories import API, PURCHASES, define_flow, request_approval

NOTIFICATIONS = "/api/v1/notifications"


@pytest.fixture(autouse=True)
def _fresh_outcomes():
    PURCHASES.outcomes.clear()


async def _notified(client, actor) -> list[tuple[str, str, str]]:
    items = (await client.get(NOTIFICATIONS, headers=actor.headers)).json()["items"]
    return [(n["type"], n["path"], n["title"]) for n in reversed(items)]


async def test_each_step_s_approvers_then_the_requester_are_notified(client, actors, app):
    admin = await actors.make("admin")
    requester = await actors.make("account_manager", team="east")
    supervisor = await actors.make("sales_supervisor", team="east")
    other_supervisor = await actors.make("sales_supervisor", team="west")
    executive = await actors.make("executive", team="head office")
    await define_flow(client, admin)
    request_id = await request_approval(app, requester, 11, "100000.00")
    path = f"{API}/{request_id}"

    # Submitted: only the supervisor of the requester's own team is asked.
    assert await _notified(client, supervisor) == [("approval_pending", path, "待审批：Purchase 11")]
    assert await _notified(client, other_supervisor) == []
    assert await _notified(client, executive) == []
    assert await _notified(client, requester) == []

    # Step one approved: the executive's step is next; the requester waits for the outcome.
    assert (await client.post(f"{path}/approve", headers=supervisor.headers)).status_code == 200
    assert await _notified(client, executive) == [("approval_pending", path, "待审批：Purchase 11")]
    assert await _notified(client, requester) == []

    approved = await client.post(f"{path}/approve", json={"comment": "Go ahead"}, headers=executive.headers)
    assert approved.status_code == 200, approved.text
    assert await _notified(client, requester) == [("approval_decided", path, "审批已通过：Purchase 11")]
    assert len(await _notified(client, supervisor)) == 1


async def test_a_rejection_tells_the_requester_why(client, actors, app):
    admin = await actors.make("admin")
    requester = await actors.make("account_manager", team="east")
    supervisor = await actors.make("sales_supervisor", team="east")
    await define_flow(client, admin)
    request_id = await request_approval(app, requester, 12)

    rejected = await client.post(f"{API}/{request_id}/reject", json={"comment": "Too expensive"}, headers=supervisor.headers)
    assert rejected.status_code == 200, rejected.text
    [notification] = (await client.get(NOTIFICATIONS, headers=requester.headers)).json()["items"]
    assert (notification["type"], notification["entity_type"], notification["entity_id"]) == (
        "approval_decided",
        "approval",
        request_id,
    )
    assert "Too expensive" in notification["body"]


async def test_a_refused_decision_notifies_no_one(client, actors, app):
    admin = await actors.make("admin")
    requester = await actors.make("account_manager", team="east")
    supervisor = await actors.make("sales_supervisor", team="east")
    await define_flow(client, admin)
    request_id = await request_approval(app, requester, 13)

    refused = await client.post(f"{API}/{request_id}/reject", json={}, headers=supervisor.headers)  # no comment: 422
    assert refused.status_code == 422
    assert await _notified(client, requester) == []
