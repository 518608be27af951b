from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from crm_api.core.clock import clock
from crm_api.models.platform import AuditEvent
from crm_api.models.ticket import ServiceTicket
from tests.churn.factories import make_customer
from tests.factories import Actor, assert_problem
from tests.tickets.factories import URL, assign, feedback, handle, open_ticket, ticket_body


@dataclass
class Desk:
    manager: Actor  # owns the customer, opens tickets
    engineer: Actor  # an account manager the tickets are assigned to
    supervisor: Actor
    customer_id: int


async def _desk(app, actors) -> Desk:
    manager = await actors.make("account_manager", team="East")
    engineer = await actors.make("account_manager", team="East")
    supervisor = await actors.make("sales_supervisor", team="East")
    return Desk(manager, engineer, supervisor, await make_customer(app, manager.id, name="联想集团"))


async def _ticket_count(app) -> int:
    async with app.state.db.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(ServiceTicket))


async def _ok(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


async def test_create_gives_a_code_and_starts_new(app, client, actors, frozen_clock):
    desk = await _desk(app, actors)
    ticket = await open_ticket(client, desk.manager, desk.customer_id)
    assert ticket["code"] == "FW00000001"
    assert ticket["status"] == "new" and ticket["assignee_id"] is None
    assert ticket["created_by_id"] == desk.manager.id
    assert ticket["created_at"] == "2026-06-15T02:00:00Z"
    assert ticket["allowed_actions"] == ["link_article"]
    assert ticket["assignments"] == [] and ticket["handlings"] == [] and ticket["feedbacks"] == []
    assert (await open_ticket(client, desk.manager, desk.customer_id))["code"] == "FW00000002"


async def test_create_refusals_write_nothing(app, client, actors):
    desk = await _desk(app, actors)
    stranger = await actors.make("account_manager", team="South")
    marketer = await actors.make("marketer")
    post = lambda actor, **kw: client.post(URL, json=ticket_body(desk.customer_id, **kw), headers=actor.headers)  # noqa: E731
    assert_problem(await client.post(URL, json=ticket_body(desk.customer_id)), 401)
    assert_problem(await post(marketer), 403, "auth.missing_permission")
    assert_problem(await post(desk.manager, service_type="refund"), 422, "dictionary.unknown_value")
    assert_problem(await post(desk.manager, channel="fax"), 422)
    assert_problem(await post(desk.manager, priority="asap"), 422)
    assert_problem(await post(desk.manager, summary=""), 422)
    assert_problem(await post(desk.manager, status="archived"), 422)
    assert_problem(await post(desk.manager, code="FW1"), 422)
    assert_problem(await post(stranger), 422, "service_ticket.unknown_customer")
    assert await _ticket_count(app) == 0


async def test_the_whole_path_new_assigned_handled_archived(app, client, actors, frozen_clock):
    desk = await _desk(app, actors)
    ticket = await open_ticket(client, desk.manager, desk.customer_id)

    assigned = await _ok(await assign(client, desk.supervisor, ticket["id"], desk.engineer.id))
    assert assigned["status"] == "assigned" and assigned["assignee_id"] == desk.engineer.id
    assert assigned["assigned_at"] == "2026-06-15T02:00:00Z"
    assert assigned["assignments"][0] | {"id": 0} == {
        "id": 0,
        "assignee_id": desk.engineer.id,
        "assigned_by_id": desk.supervisor.id,
        "routing_rule_id": None,
        "assigned_at": "2026-06-15T02:00:00Z",
    }
    assert assigned["allowed_actions"] == ["assign", "link_article"]  # the supervisor may re-assign

    # The assignee sees the ticket although the customer is not theirs, and may handle it.
    seen = await _ok(await client.get(f"{URL}/{ticket['id']}", headers=desk.engineer.headers))
    assert seen["allowed_actions"] == ["handle", "link_article"]

    clock.advance(timedelta(minutes=10))
    handled = await _ok(await handle(client, desk.engineer, ticket["id"]))
    assert handled["status"] == "handled"
    assert handled["handlings"][0]["handler_id"] == desk.engineer.id
    assert handled["handlings"][0]["handled_at"] == "2026-06-15T02:10:00Z"
    assert handled["allowed_actions"] == ["feedback", "link_article"]

    archived = await _ok(await feedback(client, desk.manager, ticket["id"], 3))
    assert archived["status"] == "archived" and archived["archived_at"] == "2026-06-15T02:10:00Z"
    assert archived["feedbacks"][0]["satisfaction"] == 3 and archived["feedbacks"][0]["author_id"] == desk.manager.id
    assert archived["allowed_actions"] == ["link_article"]


async def test_unhappy_feedback_sends_the_ticket_back_to_the_same_assignee(app, client, actors):
    desk = await _desk(app, actors)
    ticket_id = (await open_ticket(client, desk.manager, desk.customer_id))["id"]
    await assign(client, desk.supervisor, ticket_id, desk.engineer.id)
    await handle(client, desk.engineer, ticket_id, "建议重启")

    reopened = await _ok(await feedback(client, desk.engineer, ticket_id, 2, "客户表示仍无法开机"))
    assert reopened["status"] == "assigned" and reopened["assignee_id"] == desk.engineer.id
    assert reopened["archived_at"] is None

    await _ok(await handle(client, desk.engineer, ticket_id, "上门更换电源模块"))
    done = await _ok(await feedback(client, desk.manager, ticket_id, 5))
    assert done["status"] == "archived"
    assert [h["method"] for h in done["handlings"]] == ["建议重启", "上门更换电源模块"]
    assert [f["satisfaction"] for f in done["feedbacks"]] == [2, 5]
    assert len(done["assignments"]) == 1


async def test_reassign_while_assigned_keeps_the_history(app, client, actors):
    desk = await _desk(app, actors)
    other = await actors.make("account_manager", team="East")
    ticket_id = (await open_ticket(client, desk.manager, desk.customer_id))["id"]
    await assign(client, desk.supervisor, ticket_id, desk.engineer.id)
    moved = await _ok(await assign(client, desk.supervisor, ticket_id, other.id))
    assert moved["assignee_id"] == other.id
    assert [a["assignee_id"] for a in moved["assignments"]] == [desk.engineer.id, other.id]
    # The former assignee no longer takes part (and, not owning the customer, no longer sees it).
    assert_problem(await handle(client, desk.engineer, ticket_id), 404, "service_ticket.not_found")
    assert (await handle(client, other, ticket_id)).status_code == 200


async def test_assign_refusals(app, client, actors):
    desk = await _desk(app, actors)
    disabled = await actors.make("account_manager", team="East", active=False)
    ticket_id = (await open_ticket(client, desk.manager, desk.customer_id))["id"]
    assert_problem(await assign(client, desk.manager, ticket_id, desk.engineer.id), 403, "auth.missing_permission")
    assert_problem(await assign(client, desk.supervisor, ticket_id, disabled.id), 422, "service_ticket.inactive_assignee")
    assert_problem(await assign(client, desk.supervisor, ticket_id, 999999), 422, "service_ticket.inactive_assignee")
    assert_problem(await client.post(f"{URL}/{ticket_id}/assign", json={"assignee_id": desk.engineer.id}), 401)
    south = await actors.make("sales_supervisor", team="South")
    assert_problem(await assign(client, south, ticket_id, desk.engineer.id), 404, "service_ticket.not_found")
    assert (await _ok(await client.get(f"{URL}/{ticket_id}", headers=desk.manager.headers)))["status"] == "new"

    await assign(client, desk.supervisor, ticket_id, desk.engineer.id)
    await handle(client, desk.engineer, ticket_id)
    assert_problem(await assign(client, desk.supervisor, ticket_id, desk.engineer.id), 409, "service_ticket.not_assignable")
    await feedback(client, desk.manager, ticket_id, 4)
    assert_problem(await assign(client, desk.supervisor, ticket_id, desk.engineer.id), 409, "service_ticket.not_assignable")


async def test_handle_refusals(app, client, actors):
    desk = await _desk(app, actors)
    ticket_id = (await open_ticket(client, desk.manager, desk.customer_id))["id"]
    assert_problem(await handle(client, desk.manager, ticket_id), 409, "service_ticket.not_assigned")
    await assign(client, desk.supervisor, ticket_id, desk.engineer.id)
    assert_problem(await handle(client, desk.manager, ticket_id), 403, "service_ticket.not_assignee")
    assert_problem(await handle(client, desk.supervisor, ticket_id), 403, "service_ticket.not_assignee")
    assert_problem(await handle(client, desk.engineer, ticket_id, ""), 422)
    await _ok(await handle(client, desk.engineer, ticket_id))
    assert_problem(await handle(client, desk.engineer, ticket_id), 409, "service_ticket.not_assigned")
    await feedback(client, desk.manager, ticket_id, 5)
    assert_problem(await handle(client, desk.engineer, ticket_id), 409, "service_ticket.not_assigned")


async def test_feedback_refusals(app, client, actors):
    desk = await _desk(app, actors)
    colleague = await actors.make("account_manager", team="East")
    ticket_id = (await open_ticket(client, desk.manager, desk.customer_id))["id"]
    assert_problem(await feedback(client, desk.manager, ticket_id, 5), 409, "service_ticket.not_handled")
    await assign(client, desk.supervisor, ticket_id, desk.engineer.id)
    assert_problem(await feedback(client, desk.manager, ticket_id, 5), 409, "service_ticket.not_handled")
    await handle(client, desk.engineer, ticket_id)
    assert_problem(await feedback(client, desk.supervisor, ticket_id, 5), 403, "service_ticket.not_participant")
    assert_problem(await feedback(client, colleague, ticket_id, 5), 404)  # not even visible to them
    for bad in (0, 6):
        assert_problem(await feedback(client, desk.manager, ticket_id, bad), 422)
    still = await _ok(await client.get(f"{URL}/{ticket_id}", headers=desk.manager.headers))
    assert still["status"] == "handled" and still["feedbacks"] == []
    await _ok(await feedback(client, desk.manager, ticket_id, 4))
    assert_problem(await feedback(client, desk.manager, ticket_id, 4), 409, "service_ticket.not_handled")


async def test_get_is_scoped_and_has_an_etag(app, client, actors):
    desk = await _desk(app, actors)
    stranger = await actors.make("account_manager", team="South")
    ticket_id = (await open_ticket(client, desk.manager, desk.customer_id))["id"]
    response = await client.get(f"{URL}/{ticket_id}", headers=desk.supervisor.headers)
    assert response.status_code == 200 and response.headers["etag"]
    assert_problem(await client.get(f"{URL}/{ticket_id}", headers=stranger.headers), 404, "service_ticket.not_found")
    assert_problem(await client.get(f"{URL}/999999", headers=desk.manager.headers), 404)
    assert_problem(await client.get(f"{URL}/{ticket_id}"), 401)
    assert_problem(await client.get(f"{URL}/{ticket_id}", headers=(await actors.make("marketer")).headers), 403)


async def test_list_filters(app, client, actors):
    desk = await _desk(app, actors)
    other_customer = await make_customer(app, desk.manager.id, name="海尔")
    # Created at 2026-03-01 00:30 and 2026-03-02 23:30 Shanghai time (UTC+8).
    clock.freeze(datetime(2026, 2, 28, 16, 30, tzinfo=UTC))
    first = await open_ticket(client, desk.manager, desk.customer_id, summary="打印机无法开机", service_type="complaint")
    clock.freeze(datetime(2026, 3, 2, 15, 30, tzinfo=UTC))
    second = await open_ticket(client, desk.manager, other_customer, summary="咨询保修政策", service_type="consultation")
    await assign(client, desk.supervisor, second["id"], desk.engineer.id)

    async def ids(**params) -> list[int]:
        body = await _ok(await client.get(URL, params=params, headers=desk.manager.headers))
        return [t["id"] for t in body["items"]]

    assert await ids() == [second["id"], first["id"]]
    assert await ids(status="assigned") == [second["id"]]
    assert await ids(type="complaint") == [first["id"]]
    assert await ids(customer_id=other_customer) == [second["id"]]
    assert await ids(assignee_id=desk.engineer.id) == [second["id"]]
    assert await ids(q="无法开机") == [first["id"]]
    assert await ids(created_from="2026-03-01", created_to="2026-03-01") == [first["id"]]
    assert await ids(created_from="2026-03-02") == [second["id"]]
    assert await ids(created_to="2026-02-28") == []
    assert_problem(
        await client.get(URL, params={"created_from": "2026-03-02", "created_to": "2026-03-01"}, headers=desk.manager.headers),
        422,
        "service_ticket.bad_date_range",
    )
    assert_problem(await client.get(URL, params={"status": "closed"}, headers=desk.manager.headers), 422)
    # Data scope: the engineer sees only what is assigned to them.
    engineer_view = await _ok(await client.get(URL, headers=desk.engineer.headers))
    assert [t["id"] for t in engineer_view["items"]] == [second["id"]]


async def test_every_transition_is_audited(app, client, actors):
    desk = await _desk(app, actors)
    ticket_id = (await open_ticket(client, desk.manager, desk.customer_id))["id"]
    await assign(client, desk.supervisor, ticket_id, desk.engineer.id)
    await handle(client, desk.engineer, ticket_id)
    await feedback(client, desk.manager, ticket_id, 1)
    await handle(client, desk.engineer, ticket_id)
    await feedback(client, desk.manager, ticket_id, 4)
    async with app.state.db.sessionmaker() as session:
        events = (
            await session.execute(
                select(AuditEvent.action, AuditEvent.actor_id, AuditEvent.changes)
                .where(AuditEvent.entity_type == "service_ticket", AuditEvent.entity_id == str(ticket_id))
                .order_by(AuditEvent.id)
            )
        ).all()
    assert [(e.action, e.actor_id) for e in events] == [
        ("create", desk.manager.id),
        ("assign", desk.supervisor.id),
        ("handle", desk.engineer.id),
        ("reopen", desk.manager.id),
        ("handle", desk.engineer.id),
        ("archive", desk.manager.id),
    ]
    assert events[1].changes["status"] == {"before": "new", "after": "assigned"}
