from datetime import timedelta

from sqlalchemy import func, select

from crm_api.core.clock import clock
from crm_api.models.platform import AuditEvent
from crm_api.models.ticket import SlaPolicy, TicketRoutingRule
from tests.churn.factories import make_customer
from tests.factories import assert_problem
from tests.tickets.factories import URL, assign, feedback, handle, open_ticket

SLA = "/api/v1/sla-policies"
RULES = "/api/v1/ticket-routing-rules"


def _policy(service_type="complaint", priority="high", response=30, resolution=240) -> dict:
    return {
        "service_type": service_type,
        "priority": priority,
        "first_response_minutes": response,
        "resolution_minutes": resolution,
    }


async def _count(app, model) -> int:
    async with app.state.db.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_sla_policies_are_replaced_as_a_set_by_settings_writers(app, client, actors):
    admin = await actors.make("admin")
    supervisor = await actors.make("sales_supervisor")
    assert_problem(await client.put(SLA, json=[_policy()], headers=supervisor.headers), 403, "auth.missing_permission")
    assert_problem(await client.put(SLA, json=[_policy()]), 401)

    first = await client.put(SLA, json=[_policy(), _policy("consultation", "low", 240, 2880)], headers=admin.headers)
    assert first.status_code == 200, first.text
    replaced = await client.put(SLA, json=[_policy(response=15, resolution=60)], headers=admin.headers)
    assert [(p["service_type"], p["first_response_minutes"]) for p in replaced.json()] == [("complaint", 15)]
    listed = await client.get(SLA, headers=supervisor.headers)
    assert listed.status_code == 200 and listed.json() == replaced.json()


async def test_replacing_the_sla_policies_is_one_audit_event_with_the_set_before_and_after(app, client, actors):
    admin = await actors.make("admin")
    first = await client.put(SLA, json=[_policy(), _policy("consultation", "low", 240, 2880)], headers=admin.headers)
    replaced = await client.put(SLA, json=[_policy(response=15, resolution=60)], headers=admin.headers)
    async with app.state.db.sessionmaker() as session:
        events = (
            await session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "sla_policies").order_by(AuditEvent.id))
        ).all()
    assert [(e.entity_id, e.action, e.actor_id) for e in events] == [("all", "replace", admin.id)] * 2
    assert events[0].changes == {"policies": {"before": [], "after": first.json()}}
    assert events[1].changes == {"policies": {"before": first.json(), "after": replaced.json()}}


async def test_invalid_sla_policies_change_nothing(app, client, actors):
    admin = await actors.make("admin")
    await client.put(SLA, json=[_policy()], headers=admin.headers)
    assert_problem(await client.put(SLA, json=[_policy(), _policy()], headers=admin.headers), 422, "sla_policy.duplicate")
    assert_problem(
        await client.put(SLA, json=[_policy(service_type="refund")], headers=admin.headers), 422, "dictionary.unknown_value"
    )
    assert_problem(await client.put(SLA, json=[_policy(response=60, resolution=30)], headers=admin.headers), 422)
    assert_problem(await client.put(SLA, json=[_policy(priority="asap")], headers=admin.headers), 422)
    assert_problem(await client.put(SLA, json=[_policy(response=0)], headers=admin.headers), 422)
    assert await _count(app, SlaPolicy) == 1


async def test_due_times_and_the_breach_flag_follow_the_clock(app, client, actors, frozen_clock):
    admin = await actors.make("admin")
    manager = await actors.make("account_manager", team="East")
    supervisor = await actors.make("sales_supervisor", team="East")
    await client.put(SLA, json=[_policy(response=30, resolution=240)], headers=admin.headers)
    customer_id = await make_customer(app, manager.id)
    late = await open_ticket(client, manager, customer_id, priority="high")
    on_time = await open_ticket(client, manager, customer_id, priority="high")
    no_policy = await open_ticket(client, manager, customer_id, priority="low")
    assert late["response_due_at"] == "2026-06-15T02:30:00Z" and late["resolve_due_at"] == "2026-06-15T06:00:00Z"
    assert no_policy["response_due_at"] is None and no_policy["breached"] is False

    def advance(delta: timedelta) -> None:
        clock.advance(delta)
        for actor in (manager, supervisor):  # access tokens last 15 minutes
            actor.headers = actors.headers_for(actor.id)

    async def breached_ids(flag: bool) -> list[int]:
        response = await client.get(URL, params={"breached": str(flag).lower()}, headers=manager.headers)
        assert response.status_code == 200, response.text
        return [t["id"] for t in response.json()["items"]]

    await assign(client, supervisor, on_time["id"], manager.id)
    advance(timedelta(minutes=30))
    await handle(client, manager, on_time["id"])  # exactly on the due minute: in time
    assert await breached_ids(True) == []

    advance(timedelta(minutes=1))
    assert await breached_ids(True) == [late["id"]]
    assert await breached_ids(False) == [no_policy["id"], on_time["id"]]
    detail = await client.get(f"{URL}/{late['id']}", headers=manager.headers)
    assert detail.json()["breached"] is True

    # Archived before the resolution due time: stays in time even when the clock moves on.
    await feedback(client, manager, on_time["id"], 5)
    advance(timedelta(hours=5))
    assert await breached_ids(True) == [late["id"]]
    fresh = await client.get(f"{URL}/{on_time['id']}", headers=manager.headers)
    assert fresh.json()["breached"] is False and fresh.json()["status"] == "archived"


async def test_routing_rules_assign_on_create_by_level_and_type(app, client, actors, frozen_clock):
    admin = await actors.make("admin")
    manager = await actors.make("account_manager")
    senior = await actors.make("account_manager", username="senior")
    complaints = await actors.make("account_manager", username="complaints")
    big = await make_customer(app, manager.id, level="major")
    small = await make_customer(app, manager.id, level="regular")

    major_rule = await client.post(
        RULES,
        json={"name": "大客户专人", "customer_level": "major", "assignee_id": senior.id, "sort_order": 1},
        headers=admin.headers,
    )
    assert major_rule.status_code == 201, major_rule.text
    complaint_rule = await client.post(
        RULES,
        json={"name": "投诉", "service_type": "complaint", "assignee_id": complaints.id, "sort_order": 2},
        headers=admin.headers,
    )
    listed = await client.get(RULES, headers=manager.headers)
    assert [r["name"] for r in listed.json()["items"]] == ["大客户专人", "投诉"]

    routed = await open_ticket(client, manager, big)  # a complaint too: the lower sort order wins
    assert routed["status"] == "assigned" and routed["assignee_id"] == senior.id
    assert routed["routing_rule_id"] == major_rule.json()["id"]
    assert routed["assignments"][0]["routing_rule_id"] == major_rule.json()["id"]
    assert routed["assignments"][0]["assigned_by_id"] is None

    by_type = await open_ticket(client, manager, small)
    assert by_type["assignee_id"] == complaints.id and by_type["routing_rule_id"] == complaint_rule.json()["id"]
    unrouted = await open_ticket(client, manager, small, service_type="consultation")
    assert unrouted["status"] == "new" and unrouted["routing_rule_id"] is None

    # The routed assignee handles it like any other assigned ticket.
    assert (await handle(client, senior, routed["id"])).status_code == 200


async def test_a_rule_whose_user_is_disabled_is_passed_over(app, client, actors):
    admin = await actors.make("admin")
    manager = await actors.make("account_manager")
    senior = await actors.make("account_manager")
    customer_id = await make_customer(app, manager.id, level="major")
    await client.post(RULES, json={"name": "VIP", "customer_level": "major", "assignee_id": senior.id}, headers=admin.headers)
    await client.post(f"/api/v1/users/{senior.id}/disable", headers=admin.headers)
    assert (await open_ticket(client, manager, customer_id))["status"] == "new"


async def test_routing_rule_validation_and_permissions(app, client, actors):
    admin = await actors.make("admin")
    supervisor = await actors.make("sales_supervisor")
    user = await actors.make("account_manager")
    disabled = await actors.make("account_manager", active=False)
    post = lambda body, who=admin: client.post(RULES, json=body, headers=who.headers)  # noqa: E731
    base = {"name": "r", "customer_level": "major", "assignee_id": user.id}
    assert_problem(await post(base, supervisor), 403, "auth.missing_permission")
    assert_problem(await client.post(RULES, json=base), 401)
    assert_problem(await post({"name": "r", "assignee_id": user.id}), 422, "routing_rule.no_criteria")
    assert_problem(await post(base | {"customer_level": "vip"}), 422, "dictionary.unknown_value")
    assert_problem(await post(base | {"service_type": "refund"}), 422, "dictionary.unknown_value")
    assert_problem(await post(base | {"assignee_id": disabled.id}), 422, "routing_rule.inactive_assignee")
    assert_problem(await post(base | {"id": 5}), 422)
    assert await _count(app, TicketRoutingRule) == 0


async def test_routing_rules_change_and_delete(app, client, actors):
    admin = await actors.make("admin")
    manager = await actors.make("account_manager")
    senior = await actors.make("account_manager")
    rule = (
        await client.post(RULES, json={"name": "VIP", "customer_level": "major", "assignee_id": senior.id}, headers=admin.headers)
    ).json()
    url = f"{RULES}/{rule['id']}"
    assert_problem(await client.patch(url, json={"customer_level": None}, headers=admin.headers), 422, "routing_rule.no_criteria")
    assert_problem(await client.patch(url, json={"name": "x"}, headers={**admin.headers, "If-Match": '"stale"'}), 412)
    changed = await client.patch(url, json={"service_type": "complaint", "customer_level": None}, headers=admin.headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["service_type"] == "complaint" and changed.json()["customer_level"] is None
    assert_problem(await client.patch(f"{RULES}/999999", json={"name": "x"}, headers=admin.headers), 404)

    customer_id = await make_customer(app, manager.id)
    routed = await open_ticket(client, manager, customer_id)
    assert routed["routing_rule_id"] == rule["id"]
    assert (await client.delete(url, headers=admin.headers)).status_code == 204
    assert_problem(await client.delete(url, headers=admin.headers), 404, "routing_rule.not_found")
    after = (await client.get(f"{URL}/{routed['id']}", headers=manager.headers)).json()
    assert after["assignee_id"] == senior.id and after["routing_rule_id"] is None
