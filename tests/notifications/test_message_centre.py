"""The message centre through HTTP: what each reminder source leaves for its person, and reading it."""

from datetime import timedelta

from sqlalchemy import func, select

from crm_api.core.clock import clock
from crm_api.models.notification import Notification
from crm_api.notifications import service as notifications
from crm_api.notifications.policy import Link, NotificationType
from tests.churn.factories import make_customer
from tests.factories import assert_problem
from tests.leads.factories import create_assignment_rule, create_lead
from tests.opportunities.factories import opportunity_in
from tests.tickets.factories import assign as assign_ticket
from tests.tickets.factories import open_ticket

API = "/api/v1/notifications"
JOBS = "/api/v1/jobs"


async def _items(client, actor, **params) -> list[dict]:
    response = await client.get(API, params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def _unread(client, actor) -> int:
    response = await client.get(f"{API}/unread-count", headers=actor.headers)
    assert response.status_code == 200, response.text
    return response.json()["unread"]


async def _run_job(client, admin, name: str) -> dict:
    response = await client.post(f"{JOBS}/{name}/run", headers=admin.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_every_endpoint_needs_a_caller(client):
    for method, path in [
        ("GET", API),
        ("GET", f"{API}/unread-count"),
        ("POST", f"{API}/read-all"),
        ("POST", f"{API}/1/read"),
        ("GET", f"{API}/preferences"),
        ("PUT", f"{API}/preferences"),
    ]:
        assert_problem(await client.request(method, path), 401)


async def test_assigning_an_opportunity_notifies_the_assignee_and_nobody_else(client, actors):
    creator = await actors.make("account_manager", team="east")
    supervisor = await actors.make("sales_supervisor", team="east")
    assignee = await actors.make("account_manager", team="east")
    opportunity = await opportunity_in(client, "assigned", creator=creator, supervisor=supervisor, assignee=assignee)

    [notification] = await _items(client, assignee)
    assert notification["type"] == "assignment"
    assert opportunity["code"] in notification["title"]
    assert notification["entity_type"] == "opportunity" and notification["entity_id"] == opportunity["id"]
    assert notification["path"] == f"/api/v1/opportunities/{opportunity['id']}"
    assert notification["read"] is False and notification["read_at"] is None
    # The link reads the record for its person.
    assert (await client.get(notification["path"], headers=assignee.headers)).status_code == 200
    assert await _items(client, creator) == [] and await _items(client, supervisor) == []


async def test_reading_one_then_all_and_the_unread_filter(client, actors, app):
    me = await actors.make("account_manager")
    other = await actors.make("account_manager")
    async with app.state.db.sessionmaker() as session, session.begin():
        for number in range(3):
            await notifications.notify(session, [me.id], NotificationType.ASSIGNMENT, f"Item {number}", "body")
        await notifications.notify(session, [other.id], NotificationType.ASSIGNMENT, "Theirs", "body")
    newest_first = await _items(client, me)
    assert [n["title"] for n in newest_first] == ["Item 2", "Item 1", "Item 0"]
    assert await _unread(client, me) == 3

    first = newest_first[-1]
    read = await client.post(f"{API}/{first['id']}/read", headers=me.headers)
    assert read.status_code == 200 and read.json()["read"] is True and read.json()["read_at"] is not None
    again = await client.post(f"{API}/{first['id']}/read", headers=me.headers)
    assert again.json()["read_at"] == read.json()["read_at"]  # the first read time stays
    assert await _unread(client, me) == 2
    assert [n["title"] for n in await _items(client, me, unread="true")] == ["Item 2", "Item 1"]
    assert [n["title"] for n in await _items(client, me, unread="false")] == ["Item 0"]

    theirs = (await _items(client, other))[0]
    assert_problem(await client.post(f"{API}/{theirs['id']}/read", headers=me.headers), 404, "notification.not_found")

    marked = await client.post(f"{API}/read-all", headers=me.headers)
    assert marked.status_code == 200 and marked.json() == {"marked": 2}
    assert await _unread(client, me) == 0
    assert await _unread(client, other) == 1  # someone else's stay unread


async def test_a_rolled_back_cause_leaves_no_notification(app, actors):
    me = await actors.make("account_manager")
    async with app.state.db.sessionmaker() as session, session.begin():
        await notifications.notify(session, [me.id], NotificationType.ASSIGNMENT, "Never", "body", Link("customer", 1))
        await session.rollback()
    async with app.state.db.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Notification)) == 0


async def test_preferences_are_the_callers_own_and_only_known_channels(client, actors):
    me = await actors.make("account_manager")
    other = await actors.make("account_manager")
    assert (await client.get(f"{API}/preferences", headers=me.headers)).json() == {"channels": []}
    saved = await client.put(f"{API}/preferences", json={"channels": ["email", "dingtalk", "email"]}, headers=me.headers)
    assert saved.status_code == 200 and saved.json() == {"channels": ["dingtalk", "email"]}
    assert (await client.get(f"{API}/preferences", headers=me.headers)).json() == {"channels": ["dingtalk", "email"]}
    assert (await client.get(f"{API}/preferences", headers=other.headers)).json() == {"channels": []}
    assert_problem(await client.put(f"{API}/preferences", json={"channels": ["pager"]}, headers=me.headers), 422)
    assert (await client.get(f"{API}/preferences", headers=me.headers)).json() == {"channels": ["dingtalk", "email"]}


async def test_assigning_a_ticket_and_its_sla_breach_notify_the_assignee_once(app, client, actors, frozen_clock):
    admin = await actors.make("admin")
    manager = await actors.make("account_manager", team="East")
    supervisor = await actors.make("sales_supervisor", team="East")
    handler = await actors.make("account_manager", team="East")
    policy = {"service_type": "complaint", "priority": "high", "first_response_minutes": 30, "resolution_minutes": 240}
    assert (await client.put("/api/v1/sla-policies", json=[policy], headers=admin.headers)).status_code == 200
    customer_id = await make_customer(app, manager.id)
    ticket = await open_ticket(client, manager, customer_id, priority="high")
    assert (await assign_ticket(client, supervisor, ticket["id"], handler.id)).status_code == 200
    [assigned] = await _items(client, handler)
    assert assigned["type"] == "assignment" and assigned["path"] == f"/api/v1/service-tickets/{ticket['id']}"

    assert (await _run_job(client, admin, "ticket_sla_breach"))["counts"] == {"notified": 0}
    clock.advance(timedelta(minutes=31))
    admin.headers, handler.headers = actors.headers_for(admin.id), actors.headers_for(handler.id)
    assert (await _run_job(client, admin, "ticket_sla_breach"))["counts"] == {"notified": 1}
    clock.advance(timedelta(hours=4))  # the resolution time passes too: still one notification per ticket
    admin.headers, handler.headers = actors.headers_for(admin.id), actors.headers_for(handler.id)
    assert (await _run_job(client, admin, "ticket_sla_breach"))["counts"] == {"notified": 0}
    breach, _ = await _items(client, handler)
    assert breach["type"] == "sla_breach" and ticket["code"] in breach["title"]
    assert breach["entity_id"] == ticket["id"]


async def test_the_stall_job_notifies_with_its_reminder(client, actors, frozen_clock):
    admin = await actors.make("admin")
    creator = await actors.make("account_manager", team="east")
    supervisor = await actors.make("sales_supervisor", team="east")
    assignee = await actors.make("account_manager", team="east")
    stalled = await opportunity_in(client, "assigned", creator=creator, supervisor=supervisor, assignee=assignee)
    clock.advance(timedelta(days=14))
    admin.headers, assignee.headers = actors.headers_for(admin.id), actors.headers_for(assignee.id)
    assert (await _run_job(client, admin, "opportunity_stall"))["counts"] == {"reminders_raised": 1, "notified": 1}
    assert (await _run_job(client, admin, "opportunity_stall"))["counts"] == {"reminders_raised": 0, "notified": 0}
    stall = (await _items(client, assignee))[0]
    assert stall["type"] == "stall_warning" and stalled["code"] in stall["body"]
    assert stall["path"] == f"/api/v1/opportunities/{stalled['id']}"


async def test_the_follow_up_and_churn_jobs_notify_the_customers_owner(app, client, actors, frozen_clock):
    admin = await actors.make("admin")
    owner = await actors.make("account_manager")
    customer_id = await make_customer(app, owner.id, name="静默客户", created_at=clock.now() - timedelta(days=400))
    follow_up = await _run_job(client, admin, "follow_up_reminders")
    churn = await _run_job(client, admin, "churn_scan")
    assert follow_up["counts"] == {"opened": 1} and churn["counts"] == {"opened": 1}

    by_type = {n["type"]: n for n in await _items(client, owner)}
    assert set(by_type) == {"follow_up_due", "churn_warning"}
    assert "静默客户" in by_type["follow_up_due"]["body"] and by_type["follow_up_due"]["entity_type"] == "task"
    task = await client.get(by_type["follow_up_due"]["path"], headers=owner.headers)
    assert task.status_code == 200 and task.json()["related_id"] == customer_id
    assert "静默客户" in by_type["churn_warning"]["body"]
    warning = await client.get(by_type["churn_warning"]["path"], headers=owner.headers)
    assert warning.status_code == 200 and warning.json()["customer"]["id"] == customer_id


async def test_a_lead_an_assignment_rule_gives_to_someone_notifies_them(client, actors):
    admin = await actors.make("admin")
    marketer = await actors.make("marketer")
    specialist = await actors.make("account_manager", team="south")
    await create_assignment_rule(client, admin, name="zhejiang", region="zhejiang", priority=10, user_id=specialist.id)
    lead = await create_lead(client, marketer, region="zhejiang")
    own = await create_lead(
        client, marketer, region="beijing", phone=None, email="other@x.example"
    )  # no rule: the marketer's own
    [notification] = await _items(client, specialist)
    assert notification["type"] == "assignment" and notification["path"] == f"/api/v1/leads/{lead['id']}"
    assert "杭州云帆科技有限公司" in notification["body"]
    assert own["owner_id"] == marketer.id and await _items(client, marketer) == []


async def test_a_task_given_to_someone_else_notifies_them_on_create_and_on_reassignment(client, actors):
    supervisor = await actors.make("sales_supervisor", team="east")
    first = await actors.make("account_manager", team="east")
    second = await actors.make("account_manager", team="east")
    mine = await client.post("/api/v1/tasks", json={"title": "Call back"}, headers=supervisor.headers)
    assert mine.status_code == 201 and await _items(client, supervisor) == []  # one's own task: no notification
    task = await client.post(
        "/api/v1/tasks", json={"title": "Visit the plant", "assignee_id": first.id}, headers=supervisor.headers
    )
    [given] = await _items(client, first)
    assert given["title"] == "Task for you: Visit the plant" and given["path"] == f"/api/v1/tasks/{task.json()['id']}"
    moved = await client.patch(f"/api/v1/tasks/{task.json()['id']}", json={"assignee_id": second.id}, headers=supervisor.headers)
    assert moved.status_code == 200
    assert [n["title"] for n in await _items(client, second)] == ["Task for you: Visit the plant"]
