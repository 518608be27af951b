from tests.factories import assert_problem
from tests.opportunities.factories import API, opportunity_in


async def _team(actors):
    creator = await actors.make("account_manager", team="east")
    supervisor = await actors.make("sales_supervisor", team="east")
    assignee = await actors.make("account_manager", team="east")
    return creator, supervisor, assignee


async def test_the_assignee_plans_and_records_results_but_never_moves_a_date(client, actors):
    creator, supervisor, assignee = await _team(actors)
    opportunity = await opportunity_in(client, "assigned", creator=creator, supervisor=supervisor, assignee=assignee)
    items = f"{API}/{opportunity['id']}/plan-items"

    added = await client.post(items, json={"planned_on": "2026-07-01", "content": "Visit the plant"}, headers=assignee.headers)
    assert added.status_code == 201, added.text
    item = added.json()
    assert item["result"] is None and item["created_by_id"] == assignee.id
    await client.post(items, json={"planned_on": "2026-06-20", "content": "Send the brochure"}, headers=assignee.headers)
    listed = (await client.get(items, headers=supervisor.headers)).json()["items"]
    assert [i["planned_on"] for i in listed] == ["2026-06-20", "2026-07-01"]

    url = f"{items}/{item['id']}"
    moved = await client.patch(url, json={"planned_on": "2026-08-01"}, headers=assignee.headers)
    assert_problem(moved, 422, "validation_failed")
    result = await client.patch(url, json={"result": "Met the CTO; wants a quote"}, headers=assignee.headers)
    assert result.status_code == 200
    assert result.json()["result"] == "Met the CTO; wants a quote"
    assert result.json()["planned_on"] == "2026-07-01"
    assert_problem(await client.patch(url, json={"content": None}, headers=assignee.headers), 422)
    assert (await client.delete(url, headers=assignee.headers)).status_code == 204
    assert_problem(await client.delete(url, headers=assignee.headers), 404, "plan_item.not_found")


async def test_plan_items_need_a_date_and_content(client, actors):
    creator, supervisor, assignee = await _team(actors)
    opportunity = await opportunity_in(client, "assigned", creator=creator, supervisor=supervisor, assignee=assignee)
    items = f"{API}/{opportunity['id']}/plan-items"
    for body in ({"content": "x"}, {"planned_on": "2026-07-01"}, {"planned_on": "2026-07-01", "content": " "}):
        assert_problem(await client.post(items, json=body, headers=assignee.headers), 422, "validation_failed")
    assert (await client.get(items, headers=assignee.headers)).json()["items"] == []


async def test_only_the_assignee_plans_and_only_on_assigned(client, actors):
    creator, supervisor, assignee = await _team(actors)
    body = {"planned_on": "2026-07-01", "content": "Call"}
    unassigned = await opportunity_in(client, "unassigned", creator=creator, supervisor=supervisor, assignee=assignee)
    refused = await client.post(f"{API}/{unassigned['id']}/plan-items", json=body, headers=creator.headers)
    assert_problem(refused, 403, "opportunity.not_assignee")

    assigned = await opportunity_in(client, "assigned", creator=creator, supervisor=supervisor, assignee=assignee)
    items = f"{API}/{assigned['id']}/plan-items"
    assert_problem(await client.post(items, json=body, headers=creator.headers), 403, "opportunity.not_assignee")
    assert_problem(await client.post(items, json=body, headers=supervisor.headers), 403, "auth.missing_permission")
    outsider = await actors.make("account_manager", team="east")
    assert_problem(await client.post(items, json=body, headers=outsider.headers), 404, "opportunity.not_found")
    item = (await client.post(items, json=body, headers=assignee.headers)).json()
    assert_problem(await client.patch(f"{items}/{item['id']}", json={"result": "x"}, headers=creator.headers), 403)

    lost = await opportunity_in(client, "lost", creator=creator, supervisor=supervisor, assignee=assignee)
    closed = await client.post(f"{API}/{lost['id']}/plan-items", json=body, headers=assignee.headers)
    assert_problem(closed, 409, "opportunity.closed")
    # A plan item of another opportunity is not reachable through this one.
    assert_problem(await client.delete(f"{API}/{lost['id']}/plan-items/{item['id']}", headers=assignee.headers), 404)


async def test_the_assignee_moves_the_stage_and_history_is_kept(client, actors, frozen_clock):
    creator, supervisor, assignee = await _team(actors)
    opportunity = await opportunity_in(client, "assigned", creator=creator, supervisor=supervisor, assignee=assignee)
    stage_url = f"{API}/{opportunity['id']}/stage"
    assert_problem(
        await client.post(stage_url, json={"stage": "proposal"}, headers=creator.headers), 403, "opportunity.not_assignee"
    )
    assert_problem(
        await client.post(stage_url, json={"stage": "dreaming"}, headers=assignee.headers), 422, "dictionary.unknown_value"
    )
    same = await client.post(stage_url, json={"stage": "initial_contact"}, headers=assignee.headers)
    assert_problem(same, 409, "opportunity.same_stage")

    moved = await client.post(stage_url, json={"stage": "proposal"}, headers=assignee.headers)
    assert moved.status_code == 200
    assert moved.json()["stage"] == "proposal"
    await client.post(stage_url, json={"stage": "negotiation"}, headers=assignee.headers)
    history = (await client.get(f"{API}/{opportunity['id']}/stages", headers=supervisor.headers)).json()
    assert [(h["from_stage"], h["to_stage"], h["changed_by_id"]) for h in history] == [
        ("initial_contact", "proposal", assignee.id),
        ("proposal", "negotiation", assignee.id),
    ]
    unassigned = await opportunity_in(client, "unassigned", creator=creator, supervisor=supervisor, assignee=assignee)
    assert_problem(await client.post(f"{API}/{unassigned['id']}/stage", json={"stage": "proposal"}, headers=creator.headers), 403)


async def test_the_assignee_loses_with_a_reason_and_lost_is_final(client, actors):
    creator, supervisor, assignee = await _team(actors)
    opportunity = await opportunity_in(client, "assigned", creator=creator, supervisor=supervisor, assignee=assignee)
    url = f"{API}/{opportunity['id']}"
    assert_problem(await client.post(f"{url}/lose", headers=creator.headers), 403, "opportunity.not_assignee")
    lost = await client.post(f"{url}/lose", json={"reason": "Chose a competitor"}, headers=assignee.headers)
    assert lost.status_code == 200
    assert lost.json()["status"] == "lost" and lost.json()["lost_reason"] == "Chose a competitor"
    assert lost.json()["closed_at"] is not None
    assert_problem(await client.post(f"{url}/lose", headers=assignee.headers), 409, "opportunity.closed")
    assert_problem(await client.post(f"{url}/win", headers=assignee.headers), 409, "opportunity.closed")
    assert_problem(
        await client.post(f"{url}/stage", json={"stage": "proposal"}, headers=assignee.headers), 409, "opportunity.closed"
    )
    assert_problem(await client.patch(url, json={"summary": "again"}, headers=creator.headers), 409, "opportunity.closed")
    assert_problem(await client.delete(url, headers=creator.headers), 409, "opportunity.closed")
    assert_problem(
        await client.post(f"{url}/assign", json={"assignee_id": assignee.id}, headers=supervisor.headers),
        409,
        "opportunity.closed",
    )
