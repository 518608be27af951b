"""The approval engine through HTTP: flows by admins, requests walking their steps, decisions and scopes."""

import pytest
from sqlalchemy import select

from crm_api.approvals.policy import ApprovalStatus
from crm_api.core.tables import OutboxEvent
from crm_api.models.platform import AuditEvent
from tests.approvals.factories import API, FLOWS, PURCHASES, SUBJECT, define_flow, request_approval
from tests.factories import assert_problem


@pytest.fixture(autouse=True)
def _fresh_outcomes():
    PURCHASES.outcomes.clear()


async def _team(actors):
    requester = await actors.make("account_manager", team="east")
    supervisor = await actors.make("sales_supervisor", team="east")
    return requester, supervisor


async def test_anonymous_is_401_and_roles_without_the_permission_are_403(client, actors):
    marketer = await actors.make("marketer")
    manager = await actors.make("account_manager")
    assert_problem(await client.get(API), 401)
    assert_problem(await client.get(API, headers=marketer.headers), 403, "auth.missing_permission")
    assert_problem(await client.put(f"{FLOWS}/{SUBJECT}", json={}, headers=manager.headers), 403)
    assert_problem(await client.get(f"{API}/999", headers=manager.headers), 404, "approval.not_found")


async def test_admin_defines_and_replaces_a_flow(client, actors):
    admin = await actors.make("admin")
    flow = await define_flow(client, admin)
    assert [s["position"] for s in flow["steps"]] == [1, 2]
    assert flow["steps"][1]["condition"] == {"field": "amount", "operator": ">=", "value": "100000.00"}

    one_step = {"name": "Just one", "steps": [{"name": "Boss", "approver_kind": "user", "approver_user_id": admin.id}]}
    stale = await client.put(f"{FLOWS}/{SUBJECT}", json=one_step, headers={**admin.headers, "If-Match": '"0"'})
    assert_problem(stale, 412)
    replaced = await define_flow(client, admin, one_step)
    assert replaced["version"] > flow["version"]
    assert (await client.get(f"{FLOWS}/{SUBJECT}", headers=admin.headers)).json()["steps"][0]["approver_user_id"] == admin.id
    assert [f["subject_type"] for f in (await client.get(FLOWS, headers=admin.headers)).json()] == [SUBJECT]
    assert (await client.delete(f"{FLOWS}/{SUBJECT}", headers=admin.headers)).status_code == 204
    assert_problem(await client.get(f"{FLOWS}/{SUBJECT}", headers=admin.headers), 404, "approval_flow.not_found")


@pytest.mark.parametrize(
    ("subject_type", "step", "code"),
    [
        ("nothing_here", {"name": "S", "approver_kind": "role", "approver_role": "executive"}, "approval.unknown_subject"),
        (SUBJECT, {"name": "S", "approver_kind": "role", "approver_role": "no_such_role"}, "approval.unknown_role"),
        (SUBJECT, {"name": "S", "approver_kind": "user", "approver_user_id": 987654}, "approval.unknown_approver"),
        (SUBJECT, {"name": "S", "approver_kind": "user", "approver_role": "executive"}, None),
    ],
)
async def test_bad_flows_are_422_and_write_nothing(client, actors, subject_type, step, code):
    admin = await actors.make("admin")
    response = await client.put(f"{FLOWS}/{subject_type}", json={"name": "F", "steps": [step]}, headers=admin.headers)
    assert_problem(response, 422, code)
    assert_problem(await client.get(f"{FLOWS}/{SUBJECT}", headers=admin.headers), 404)


async def test_a_small_request_needs_the_team_supervisor_only(client, actors, app):
    admin = await actors.make("admin")
    requester, supervisor = await _team(actors)
    other_supervisor = await actors.make("sales_supervisor", team="west")
    await define_flow(client, admin)
    request_id = await request_approval(app, requester, 1, "99999.99")

    mine = (await client.get(API, params={"pending_for": "me"}, headers=supervisor.headers)).json()["items"]
    assert [(r["id"], r["current_step"], len(r["steps"])) for r in mine] == [(request_id, 1, 1)]
    assert mine[0]["allowed_actions"] == ["approve", "reject"]
    assert (await client.get(API, params={"pending_for": "me"}, headers=other_supervisor.headers)).json()["items"] == []
    assert_problem(await client.get(f"{API}/{request_id}", headers=other_supervisor.headers), 404)
    assert_problem(await client.post(f"{API}/{request_id}/approve", headers=other_supervisor.headers), 404)
    own = (await client.get(API, params={"requested_by": "me"}, headers=requester.headers)).json()["items"]
    assert own[0]["allowed_actions"] == ["withdraw"]
    assert_problem(await client.post(f"{API}/{request_id}/approve", headers=requester.headers), 403, "approval.not_approver")

    approved = await client.post(f"{API}/{request_id}/approve", json={"comment": "Fine"}, headers=supervisor.headers)
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["status"] == "approved" and body["current_step"] is None and body["allowed_actions"] == []
    assert body["steps"][0] | {"decided_at": None} == {
        "position": 1,
        "name": "Team supervisor",
        "approver_kind": "team_role",
        "approver_role": "sales_supervisor",
        "approver_user_id": None,
        "decision": "approved",
        "decided_by_id": supervisor.id,
        "decided_by_name": supervisor.username.title(),
        "decided_at": None,
        "comment": "Fine",
    }
    assert PURCHASES.outcomes == [(1, ApprovalStatus.APPROVED)]
    again = await client.post(f"{API}/{request_id}/approve", headers=supervisor.headers)
    assert_problem(again, 409, "approval.not_pending")


async def test_a_large_request_goes_on_to_an_executive(client, actors, app):
    admin = await actors.make("admin")
    requester, supervisor = await _team(actors)
    executive = await actors.make("executive", team="head office")
    await define_flow(client, admin)
    request_id = await request_approval(app, requester, 2, "100000.00")

    assert (await client.get(API, params={"pending_for": "me"}, headers=executive.headers)).json()["items"] == []
    step_one = (await client.post(f"{API}/{request_id}/approve", headers=supervisor.headers)).json()
    assert (step_one["status"], step_one["current_step"]) == ("pending", 2)
    assert PURCHASES.outcomes == []
    assert [
        r["id"] for r in (await client.get(API, params={"pending_for": "me"}, headers=executive.headers)).json()["items"]
    ] == [request_id]
    assert (await client.get(API, params={"pending_for": "me"}, headers=supervisor.headers)).json()["items"] == []
    # The supervisor decided a step, so still sees the request, but may not decide the executive's step.
    seen = (await client.get(f"{API}/{request_id}", headers=supervisor.headers)).json()
    assert seen["allowed_actions"] == []
    final = (await client.post(f"{API}/{request_id}/approve", headers=executive.headers)).json()
    assert final["status"] == "approved"
    assert [s["decision"] for s in final["steps"]] == ["approved", "approved"]
    assert PURCHASES.outcomes == [(2, ApprovalStatus.APPROVED)]


async def test_reject_needs_a_comment_and_settles_the_subject_rejected(client, actors, app):
    admin = await actors.make("admin")
    requester, supervisor = await _team(actors)
    await define_flow(client, admin)
    request_id = await request_approval(app, requester, 3)

    assert_problem(
        await client.post(f"{API}/{request_id}/reject", json={}, headers=supervisor.headers), 422, "approval.comment_required"
    )
    assert (await client.get(f"{API}/{request_id}", headers=supervisor.headers)).json()["status"] == "pending"
    rejected = await client.post(f"{API}/{request_id}/reject", json={"comment": "Too cheap"}, headers=supervisor.headers)
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["steps"][0]["comment"] == "Too cheap"
    assert PURCHASES.outcomes == [(3, ApprovalStatus.REJECTED)]


async def test_only_the_requester_withdraws_and_only_while_pending(client, actors, app):
    admin = await actors.make("admin")
    requester, supervisor = await _team(actors)
    await define_flow(client, admin)
    request_id = await request_approval(app, requester, 4)

    assert_problem(await client.post(f"{API}/{request_id}/withdraw", headers=supervisor.headers), 403, "approval.not_requester")
    withdrawn = await client.post(f"{API}/{request_id}/withdraw", headers=requester.headers)
    assert withdrawn.json()["status"] == "withdrawn"
    assert PURCHASES.outcomes == [(4, ApprovalStatus.WITHDRAWN)]
    assert_problem(await client.post(f"{API}/{request_id}/withdraw", headers=requester.headers), 409, "approval.not_pending")
    # Settled, the subject may be submitted again.
    assert await request_approval(app, requester, 4) != request_id


async def test_a_named_user_decides_and_every_decision_is_audited_and_published(client, actors, app):
    admin = await actors.make("admin")
    requester, _ = await _team(actors)
    boss = await actors.make("executive")
    await define_flow(
        client, admin, {"name": "F", "steps": [{"name": "Boss", "approver_kind": "user", "approver_user_id": boss.id}]}
    )
    request_id = await request_approval(app, requester, 5)

    assert (await client.post(f"{API}/{request_id}/approve", headers=boss.headers)).json()["status"] == "approved"
    async with app.state.db.sessionmaker() as session:
        audited = (await session.scalars(select(AuditEvent.action).where(AuditEvent.entity_type == "approval"))).all()
        events = (await session.scalars(select(OutboxEvent.event_type).where(OutboxEvent.entity_type == "approval"))).all()
    assert sorted(audited) == ["approve", "request"]
    assert sorted(events) == ["approval.decided", "approval.requested"]


async def test_without_a_flow_submitting_is_409_and_without_an_applicable_step_it_is_approved_at_once(client, actors, app):
    from crm_api.core.errors import Conflict

    admin = await actors.make("admin")
    requester, _ = await _team(actors)
    with pytest.raises(Conflict) as refused:
        await request_approval(app, requester, 6)
    assert refused.value.code == "approval.no_flow"

    only_large = {
        "name": "F",
        "steps": [
            {
                "name": "Exec",
                "approver_kind": "role",
                "approver_role": "executive",
                "condition": {"field": "amount", "operator": ">", "value": "1000"},
            }
        ],
    }
    await define_flow(client, admin, only_large)
    request_id = await request_approval(app, requester, 6, "1000.00")
    read = (await client.get(f"{API}/{request_id}", headers=requester.headers)).json()
    assert (read["status"], read["steps"], read["current_step"]) == ("approved", [], None)
