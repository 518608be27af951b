from datetime import timedelta

from crm_api.core.clock import clock
from tests.customers.factories import audit_of, make_customer
from tests.factories import assert_problem
from tests.leads.factories import create_lead
from tests.opportunities.factories import create_opportunity
from tests.tasks.factories import BASE, all_tasks, create_task
from tests.tickets.factories import open_ticket


async def test_every_route_needs_a_token_and_a_permission(client, actors):
    integrator_like = await actors.make("integrator")
    assert_problem(await client.get(BASE), 401)
    assert_problem(await client.post(BASE, json={"title": "x"}), 401)
    assert_problem(await client.get(BASE, headers=integrator_like.headers), 403, "auth.missing_permission")
    assert_problem(await client.post(BASE, json={"title": "x"}, headers=integrator_like.headers), 403)
    executive = await actors.make("executive")
    assert (await client.get(BASE, headers=executive.headers)).status_code == 200
    assert_problem(await client.post(BASE, json={"title": "x"}, headers=executive.headers), 403)


async def test_create_defaults_to_the_caller_and_is_audited(client, actors, frozen_clock):
    manager = await actors.make("account_manager")
    task = await create_task(client, manager, notes="带上新价目表", priority="high")
    assert task["assignee_id"] == manager.id
    assert task["created_by_id"] == manager.id
    assert (task["status"], task["kind"], task["priority"]) == ("open", "manual", "high")
    assert task["closed_at"] is None
    admin = await actors.make("admin")
    events = await audit_of(client, admin, "task", task["id"])
    assert [e["action"] for e in events] == ["create"]
    assert events[0]["changes"]["title"]["after"] == "给客户回电话确认报价"


async def test_status_kind_and_creator_are_not_writable(client, actors, app):
    manager = await actors.make("account_manager")
    for extra in ({"status": "done"}, {"kind": "follow_up"}, {"created_by_id": 1}):
        response = await client.post(BASE, json={"title": "x"} | extra, headers=manager.headers)
        assert_problem(response, 422, "validation_failed")
    assert_problem(await client.post(BASE, json={"title": "  "}, headers=manager.headers), 422)
    assert_problem(await client.post(BASE, json={"title": "x", "due_at": "2026-06-20T10:00:00"}, headers=manager.headers), 422)
    assert await all_tasks(app) == []


async def test_assignee_must_be_an_active_user(client, actors, app):
    manager = await actors.make("account_manager")
    gone = await actors.make("account_manager", active=False)
    colleague = await actors.make("account_manager")
    for assignee_id in (gone.id, 999_999):
        response = await client.post(BASE, json={"title": "x", "assignee_id": assignee_id}, headers=manager.headers)
        assert_problem(response, 422, "task.assignee_invalid")
    assert await all_tasks(app) == []
    task = await create_task(client, manager, assignee_id=colleague.id)
    # The assignee sees it, and so does its creator.
    assert (await client.get(f"{BASE}/{task['id']}", headers=colleague.headers)).status_code == 200
    assert (await client.get(f"{BASE}/{task['id']}", headers=manager.headers)).status_code == 200


async def test_related_record_must_exist_and_be_in_the_creators_scope(client, actors, app):
    manager = await actors.make("account_manager")
    other = await actors.make("account_manager")
    marketer = await actors.make("marketer")
    mine = await make_customer(client, manager)
    theirs = await make_customer(client, other)
    opportunity = await create_opportunity(client, manager)
    ticket = await open_ticket(client, manager, mine["id"])
    lead = await create_lead(client, marketer)

    for related_type, related_id in (
        ("customer", mine["id"]),
        ("opportunity", opportunity["id"]),
        ("service_ticket", ticket["id"]),
    ):
        task = await create_task(client, manager, related_type=related_type, related_id=related_id)
        assert (task["related_type"], task["related_id"]) == (related_type, related_id)
    assert (await create_task(client, marketer, related_type="lead", related_id=lead["id"]))["related_id"] == lead["id"]
    created = len(await all_tasks(app))

    refused = [
        ("customer", theirs["id"]),  # exists, outside the scope
        ("customer", 999_999),
        ("opportunity", 999_999),
        ("service_ticket", 999_999),
        ("lead", lead["id"]),  # the marketer's lead: not the manager's
    ]
    for related_type, related_id in refused:
        body = {"title": "x", "related_type": related_type, "related_id": related_id}
        assert_problem(await client.post(BASE, json=body, headers=manager.headers), 422, "task.related_not_found")
    # A marketer may not read customers at all: same answer, no hint that the customer exists.
    body = {"title": "x", "related_type": "customer", "related_id": mine["id"]}
    assert_problem(await client.post(BASE, json=body, headers=marketer.headers), 422, "task.related_not_found")
    for half in ({"related_type": "customer"}, {"related_id": mine["id"]}):
        assert_problem(
            await client.post(BASE, json={"title": "x"} | half, headers=manager.headers), 422, "task.related_incomplete"
        )
    assert_problem(
        await client.post(BASE, json={"title": "x", "related_type": "order", "related_id": 1}, headers=manager.headers),
        422,
        "validation_failed",
    )
    assert len(await all_tasks(app)) == created


async def test_data_scope_own_team_all(client, actors):
    a = await actors.make("account_manager", team="east")
    b = await actors.make("account_manager", team="east")
    c = await actors.make("account_manager", team="south")
    east_supervisor = await actors.make("sales_supervisor", team="east")
    executive = await actors.make("executive")
    task_of_b = await create_task(client, b)
    task_of_c = await create_task(client, c)
    url = f"{BASE}/{task_of_b['id']}"

    for response in (
        await client.get(url, headers=a.headers),
        await client.patch(url, json={"title": "mine now"}, headers=a.headers),
        await client.post(f"{url}/complete", headers=a.headers),
        await client.post(f"{url}/cancel", headers=a.headers),
        await client.delete(url, headers=a.headers),
    ):
        assert_problem(response, 404, "task.not_found")
    assert (await client.get(BASE, headers=a.headers)).json()["items"] == []

    listed = lambda actor: client.get(BASE, headers=actor.headers)  # noqa: E731
    assert [t["id"] for t in (await listed(east_supervisor)).json()["items"]] == [task_of_b["id"]]
    assert {t["id"] for t in (await listed(executive)).json()["items"]} == {task_of_b["id"], task_of_c["id"]}
    assert (await client.patch(url, json={"priority": "low"}, headers=east_supervisor.headers)).status_code == 200
    assert_problem(await client.get(f"{BASE}/{task_of_c['id']}", headers=east_supervisor.headers), 404)
    assert_problem(await client.get(f"{BASE}/999999", headers=executive.headers), 404, "task.not_found")


async def test_update_with_etag_and_only_while_open(client, actors):
    manager = await actors.make("account_manager")
    task = await create_task(client, manager)
    url = f"{BASE}/{task['id']}"
    read = await client.get(url, headers=manager.headers)
    etag = read.headers["ETag"]

    changed = await client.patch(
        url, json={"title": "改期到周五", "due_at": None, "notes": "客户出差"}, headers=manager.headers | {"If-Match": etag}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["title"], changed.json()["due_at"], changed.json()["notes"]) == ("改期到周五", None, "客户出差")
    assert changed.headers["ETag"] != etag
    stale = await client.patch(url, json={"title": "again"}, headers=manager.headers | {"If-Match": etag})
    assert_problem(stale, 412, "precondition.etag_mismatch")
    for body in ({"title": None}, {"assignee_id": None}, {"status": "done"}, {"related_id": 3}):
        assert_problem(await client.patch(url, json=body, headers=manager.headers), 422)
    gone = await actors.make("account_manager", active=False)
    assert_problem(await client.patch(url, json={"assignee_id": gone.id}, headers=manager.headers), 422, "task.assignee_invalid")
    assert (await client.get(url, headers=manager.headers)).json()["title"] == "改期到周五"

    assert (await client.post(f"{url}/complete", headers=manager.headers)).status_code == 200
    assert_problem(await client.patch(url, json={"title": "late"}, headers=manager.headers), 409, "task.not_open")


async def test_complete_and_cancel_only_from_open(client, actors, frozen_clock):
    manager = await actors.make("account_manager")
    done = await create_task(client, manager)
    cancelled = await create_task(client, manager)
    clock.advance(timedelta(minutes=10))

    completed = await client.post(f"{BASE}/{done['id']}/complete", headers=manager.headers)
    assert completed.status_code == 200, completed.text
    assert completed.json()["status"] == "done"
    assert completed.json()["closed_at"] == "2026-06-15T02:10:00Z"
    assert (await client.post(f"{BASE}/{cancelled['id']}/cancel", headers=manager.headers)).json()["status"] == "cancelled"

    for task in (done, cancelled):
        for action in ("complete", "cancel"):
            assert_problem(await client.post(f"{BASE}/{task['id']}/{action}", headers=manager.headers), 409, "task.not_open")
    admin = await actors.make("admin")
    assert [e["action"] for e in await audit_of(client, admin, "task", done["id"])] == ["create", "complete"]
    assert [e["action"] for e in await audit_of(client, admin, "task", cancelled["id"])] == ["create", "cancel"]


async def test_delete(client, actors, app):
    manager = await actors.make("account_manager")
    executive = await actors.make("executive")
    task = await create_task(client, manager)
    url = f"{BASE}/{task['id']}"
    assert_problem(await client.delete(url), 401)
    assert_problem(await client.delete(url, headers=executive.headers), 403)
    assert (await client.delete(url, headers=manager.headers)).status_code == 204
    assert_problem(await client.get(url, headers=manager.headers), 404)
    assert await all_tasks(app) == []
    admin = await actors.make("admin")
    assert [e["action"] for e in await audit_of(client, admin, "task", task["id"])] == ["create", "delete"]


async def test_filters_and_overdue_with_the_frozen_clock(client, actors, frozen_clock):
    manager = await actors.make("account_manager")
    colleague = await actors.make("account_manager")
    customer = await make_customer(client, manager)
    # The clock stands at 2026-06-15 02:00 UTC.
    due_soon = await create_task(client, manager, due_at="2026-06-15T03:00:00Z")
    due_later = await create_task(
        client, manager, due_at="2026-06-18T00:00:00Z", related_type="customer", related_id=customer["id"]
    )
    undated = await create_task(client, manager, due_at=None)
    passed_but_done = await create_task(client, manager, due_at="2026-06-15T01:00:00Z")
    await client.post(f"{BASE}/{passed_but_done['id']}/complete", headers=manager.headers)
    for_colleague = await create_task(client, manager, assignee_id=colleague.id, due_at="2026-06-16T00:00:00Z")

    async def ids(**params: object) -> set[int]:
        # Signed now: the clock moves past the access token's lifetime.
        response = await client.get(BASE, params=params, headers=actors.headers_for(manager.id))
        assert response.status_code == 200, response.text
        return {t["id"] for t in response.json()["items"]}

    assert await ids(overdue="true") == set()
    clock.advance(timedelta(hours=1))  # 03:00: due_soon is due now, not yet overdue
    assert await ids(overdue="true") == set()
    clock.advance(timedelta(seconds=1))
    assert await ids(overdue="true") == {due_soon["id"]}
    clock.advance(timedelta(days=2))
    assert await ids(overdue="true") == {due_soon["id"], for_colleague["id"]}
    assert await ids(overdue="true", assignee_id=colleague.id) == {for_colleague["id"]}
    assert await ids(overdue="false") == {due_later["id"], undated["id"], passed_but_done["id"]}
    assert await ids(status="done") == {passed_but_done["id"]}
    assert await ids(status="open", due_before="2026-06-17T00:00:00Z") == {due_soon["id"], for_colleague["id"]}
    assert await ids(related_type="customer", related_id=customer["id"]) == {due_later["id"]}
    fresh = actors.headers_for(manager.id)
    assert_problem(await client.get(BASE, params={"status": "closed"}, headers=fresh), 422)
    assert_problem(await client.get(BASE, params={"due_before": "tomorrow"}, headers=fresh), 422)
