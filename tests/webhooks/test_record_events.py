"""`<type>.created|updated|deleted`: one event per change, in its transaction, carrying the record as it reads."""

import pytest

from crm_api.webhooks.service import CATALOGUE
from tests.leads.factories import lead_body
from tests.opportunities.factories import opportunity_body
from tests.tickets.factories import assign, ticket_body
from tests.webhooks.factories import outbox

CUSTOMERS = "/api/v1/customers"


async def _customer(client, admin) -> int:
    response = await client.post(CUSTOMERS, json={"name": "杭州事件测试有限公司"}, headers=admin.headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _kinds(customer_id: int) -> dict[str, tuple[str, dict, dict, dict]]:
    """event name -> (collection URL, a valid body, a valid change, an invalid body)."""
    base = f"{CUSTOMERS}/{customer_id}"
    contact = {"name": "陈静", "gender": "female", "title": "采购经理", "office_phone": "021-62345679"}
    interaction = {"occurred_on": "2026-05-01", "location": "电话", "summary": "需求沟通", "details": "约定提交方案"}
    return {
        "customer": (CUSTOMERS, {"name": "宁波事件测试有限公司"}, {"phone": "0574-27881234"}, {"name": ""}),
        "contact": (f"{base}/contacts", contact, {"title": "总经理"}, contact | {"gender": "unknown"}),
        "interaction": (f"{base}/interactions", interaction, {"summary": "方案演示"}, interaction | {"summary": ""}),
        "lead": ("/api/v1/leads", lead_body(), {"contact_name": "吴刚"}, lead_body(company="")),
        "opportunity": ("/api/v1/opportunities", opportunity_body(), {"summary": "Two lines"}, opportunity_body(summary="")),
    }


async def _types_since(app, seen: int) -> list[str]:
    return [e.event_type for e in (await outbox(app))[seen:]]


@pytest.mark.parametrize("name", ["customer", "contact", "interaction", "lead", "opportunity"])
async def test_each_change_publishes_exactly_one_event_of_its_type(app, client, actors, name):
    admin = await actors.make("admin")
    url, body, change, invalid = _kinds(await _customer(client, admin))[name]
    seen = len(await outbox(app))

    refused = await client.post(url, json=invalid, headers=admin.headers)
    assert refused.status_code == 422, refused.text
    assert await _types_since(app, seen) == []

    created = await client.post(url, json=body, headers=admin.headers)
    assert created.status_code == 201, created.text
    record = created.json()
    assert await _types_since(app, seen) == [f"{name}.created"]
    [event] = await outbox(app, f"{name}.created") if name != "customer" else (await outbox(app, "customer.created"))[-1:]
    assert event.entity_id == str(record["id"])
    assert event.payload == {k: v for k, v in record.items() if k != "allowed_actions"}

    updated = await client.patch(f"{url}/{record['id']}", json=change, headers=admin.headers)
    assert updated.status_code == 200, updated.text
    assert await _types_since(app, seen) == [f"{name}.created", f"{name}.updated"]
    [event] = await outbox(app, f"{name}.updated")
    assert event.payload == {k: v for k, v in updated.json().items() if k != "allowed_actions"}

    deleted = await client.delete(f"{url}/{record['id']}", headers=admin.headers)
    assert deleted.status_code == 204, deleted.text
    assert await _types_since(app, seen) == [f"{name}.created", f"{name}.updated", f"{name}.deleted"]
    [event] = await outbox(app, f"{name}.deleted")
    assert (event.entity_id, event.payload["id"]) == (str(record["id"]), record["id"])


async def test_a_ticket_publishes_created_and_one_updated_per_move(app, client, actors):
    manager = await actors.make("account_manager", team="Service")
    supervisor = await actors.make("sales_supervisor", team="Service")
    customer_id = await _customer(client, manager)
    seen = len(await outbox(app))

    refused = await client.post(
        "/api/v1/service-tickets", json=ticket_body(customer_id, priority="soon"), headers=manager.headers
    )
    assert refused.status_code == 422
    assert await _types_since(app, seen) == []

    created = await client.post("/api/v1/service-tickets", json=ticket_body(customer_id), headers=manager.headers)
    assert created.status_code == 201, created.text
    ticket = created.json()
    assert (await assign(client, supervisor, ticket["id"], manager.id)).status_code == 200
    assert await _types_since(app, seen) == ["ticket.created", "ticket.updated"]
    [event] = await outbox(app, "ticket.updated")
    assert (event.entity_type, event.entity_id) == ("service_ticket", str(ticket["id"]))
    assert event.payload["status"] == "assigned" and "allowed_actions" not in event.payload


async def test_the_catalogue_lists_every_event_with_its_payload_schema(client, actors):
    admin = await actors.make("admin")
    response = await client.get("/api/v1/webhooks/event-types", headers=admin.headers)
    assert response.status_code == 200
    listed = {item["type"]: item for item in response.json()}
    for name in ("customer", "contact", "interaction", "lead", "opportunity"):
        assert {f"{name}.{change}" for change in ("created", "updated", "deleted")} <= listed.keys()
    assert {"ticket.created", "ticket.updated", "ticket.archived", "opportunity.won"} <= listed.keys()
    assert listed.keys() == CATALOGUE.keys()
    for item in listed.values():
        schema = item["payload_schema"]
        assert (schema["type"] == "object" and "id" in schema["properties"]) or "warning_id" in schema["properties"]
        assert "allowed_actions" not in schema["properties"] and "allowed_actions" not in schema.get("required", [])
    assert "code" in listed["customer.updated"]["payload_schema"]["required"]
