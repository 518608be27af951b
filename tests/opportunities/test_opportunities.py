from sqlalchemy import select

from crm_api.models.pipeline import Opportunity
from crm_api.models.platform import AuditEvent
from tests.factories import assert_problem
from tests.opportunities.factories import API, assign, count_rows, create_opportunity, opportunity_body


async def test_anonymous_is_401_and_marketer_is_403(client, actors):
    marketer = await actors.make("marketer")
    assert_problem(await client.get(API), 401, "auth.not_authenticated")
    assert_problem(await client.get(API, headers=marketer.headers), 403, "auth.missing_permission")
    assert_problem(await client.post(API, json=opportunity_body(), headers=marketer.headers), 403)


async def test_account_manager_records_an_unassigned_opportunity(client, actors, app, frozen_clock):
    manager = await actors.make("account_manager", team="east")
    created = await create_opportunity(client, manager)
    assert created["code"] == "JH00000001"
    assert created["status"] == "unassigned"
    assert created["stage"] == "initial_contact"
    assert created["created_by_id"] == manager.id
    assert created["assignee_id"] is None
    assert created["expected_amount"] == "120000.00"
    assert created["allowed_actions"] == ["edit", "delete"]
    second = await create_opportunity(client, manager)
    assert second["code"] == "JH00000002"
    async with app.state.db.sessionmaker() as session:
        events = (await session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "opportunity"))).all()
    assert [e.action for e in events] == ["create", "create"]


async def test_create_refuses_bad_input_and_mass_assignment_writing_nothing(client, actors, app):
    manager = await actors.make("account_manager")
    for body in (
        opportunity_body(status="won"),
        opportunity_body(code="JH1"),
        opportunity_body(created_by_id=1),
        opportunity_body(success_probability=101),
        opportunity_body(summary=""),
        {k: v for k, v in opportunity_body().items() if k != "description"},
    ):
        assert_problem(await client.post(API, json=body, headers=manager.headers), 422, "validation_failed")
    unknown_stage = await client.post(API, json=opportunity_body(stage="dreaming"), headers=manager.headers)
    assert_problem(unknown_stage, 422, "dictionary.unknown_value")
    assert await count_rows(app, Opportunity) == 0


async def test_scope_creator_team_supervisor_assignee_and_executive_see_it(client, actors):
    creator = await actors.make("account_manager", team="east")
    colleague = await actors.make("account_manager", team="east")
    supervisor = await actors.make("sales_supervisor", team="east")
    other_supervisor = await actors.make("sales_supervisor", team="south")
    assignee = await actors.make("account_manager", team="south")
    executive = await actors.make("executive")
    opportunity = await create_opportunity(client, creator)
    url = f"{API}/{opportunity['id']}"
    for viewer in (creator, supervisor, executive):
        assert (await client.get(url, headers=viewer.headers)).status_code == 200
    for outsider in (colleague, other_supervisor, assignee):
        assert_problem(await client.get(url, headers=outsider.headers), 404, "opportunity.not_found")
    assert (await assign(client, supervisor, opportunity["id"], assignee)).status_code == 200
    # Once assigned, the assignee and the assignee's team see it too.
    for viewer in (assignee, other_supervisor, creator):
        assert (await client.get(url, headers=viewer.headers)).status_code == 200
    listed = await client.get(API, params={"assignee_id": assignee.id}, headers=other_supervisor.headers)
    assert [o["id"] for o in listed.json()["items"]] == [opportunity["id"]]
    assert_problem(await client.get(f"{API}/999999", headers=executive.headers), 404, "opportunity.not_found")


async def test_list_filters(client, actors):
    manager = await actors.make("account_manager")
    first = await create_opportunity(client, manager, customer_name="Alpha Foods")
    await create_opportunity(client, manager, customer_name="Beta Steel", stage="proposal")
    found = await client.get(API, params={"q": "alpha"}, headers=manager.headers)
    assert [o["id"] for o in found.json()["items"]] == [first["id"]]
    by_stage = await client.get(API, params={"stage": "proposal", "with_total": True}, headers=manager.headers)
    assert by_stage.json()["total"] == 1
    assert (await client.get(API, params={"status": "won"}, headers=manager.headers)).json()["items"] == []
    assert_problem(await client.get(API, params={"status": "open"}, headers=manager.headers), 422)


async def test_edit_only_while_unassigned_and_honours_if_match(client, actors):
    creator = await actors.make("account_manager", team="east")
    supervisor = await actors.make("sales_supervisor", team="east")
    opportunity = await create_opportunity(client, creator)
    url = f"{API}/{opportunity['id']}"
    etag = (await client.get(url, headers=creator.headers)).headers["etag"]
    edited = await client.patch(url, json={"success_probability": 80}, headers=creator.headers | {"If-Match": etag})
    assert edited.status_code == 200 and edited.json()["success_probability"] == 80
    stale = await client.patch(url, json={"summary": "x"}, headers=creator.headers | {"If-Match": etag})
    assert_problem(stale, 412, "precondition.etag_mismatch")
    assert_problem(await client.patch(url, json={"summary": None}, headers=creator.headers), 422)
    assert_problem(await client.patch(url, json={"status": "won"}, headers=creator.headers), 422)
    assert_problem(await client.patch(url, json={"stage": "proposal"}, headers=creator.headers), 422)
    assignee = await actors.make("account_manager", team="east")
    assert (await assign(client, supervisor, opportunity["id"], assignee)).status_code == 200
    refused = await client.patch(url, json={"summary": "changed"}, headers=creator.headers)
    assert_problem(refused, 409, "opportunity.not_unassigned")
    assert (await client.get(url, headers=creator.headers)).json()["summary"] == opportunity["summary"]


async def test_only_the_creator_deletes_and_only_while_unassigned(client, actors, app):
    creator = await actors.make("account_manager", team="east")
    supervisor = await actors.make("sales_supervisor", team="east")
    executive = await actors.make("executive")
    opportunity = await create_opportunity(client, creator)
    url = f"{API}/{opportunity['id']}"
    assert_problem(await client.delete(url, headers=supervisor.headers), 403, "opportunity.not_creator")
    assert_problem(await client.delete(url, headers=executive.headers), 403, "auth.missing_permission")
    assert (await client.delete(url, headers=creator.headers)).status_code == 204
    assert_problem(await client.get(url, headers=creator.headers), 404)

    kept = await create_opportunity(client, creator)
    assert (await assign(client, supervisor, kept["id"], await actors.make("account_manager"))).status_code == 200
    assert_problem(await client.delete(f"{API}/{kept['id']}", headers=creator.headers), 409, "opportunity.not_unassigned")
    assert await count_rows(app, Opportunity) == 1


async def test_supervisor_assigns_once_to_an_active_account_manager(client, actors, frozen_clock):
    creator = await actors.make("account_manager", team="east")
    supervisor = await actors.make("sales_supervisor", team="east")
    executive = await actors.make("executive")
    assignee = await actors.make("account_manager", team="east")
    disabled = await actors.make("account_manager", team="east", active=False)
    opportunity = await create_opportunity(client, creator)
    oid = opportunity["id"]

    assert_problem(await assign(client, creator, oid, assignee), 403, "auth.missing_permission")
    assert_problem(await assign(client, executive, oid, assignee), 403, "auth.missing_permission")
    for wrong in (supervisor, disabled, executive):
        assert_problem(await assign(client, supervisor, oid, wrong), 422, "opportunity.invalid_assignee")
    missing = await client.post(f"{API}/{oid}/assign", json={"assignee_id": 999999}, headers=supervisor.headers)
    assert_problem(missing, 422, "opportunity.invalid_assignee")
    assert_problem(await client.post(f"{API}/{oid}/assign", json={}, headers=supervisor.headers), 422)

    assigned = await assign(client, supervisor, oid, assignee)
    assert assigned.status_code == 200
    body = assigned.json()
    assert body["status"] == "assigned"
    assert body["assignee_id"] == assignee.id
    assert body["assigned_at"].startswith("2026-06-15T02:00")
    assert body["allowed_actions"] == []
    again = await assign(client, supervisor, oid, await actors.make("account_manager"))
    assert_problem(again, 409, "opportunity.not_unassigned")
    assert_problem(await assign(client, supervisor, 999999, assignee), 404)
