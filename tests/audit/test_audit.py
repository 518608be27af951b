from datetime import timedelta

import pytest

from crm_api.core.clock import clock
from tests.customers.factories import BASE, make_customer
from tests.factories import assert_problem, count_statements
from tests.routes import api_routes


async def test_each_mutation_writes_an_audit_event_with_before_and_after(client, actors, frozen_clock):
    admin = await actors.make("admin")
    created = (
        await client.post(
            "/api/v1/dictionary",
            json={"category": "industry", "label": "航运", "value": "shipping"},
            headers=admin.headers | {"X-Request-ID": "req-create"},
        )
    ).json()
    clock.advance(timedelta(minutes=1))
    await client.patch(f"/api/v1/dictionary/{created['id']}", json={"label": "航运物流", "sort_order": 5}, headers=admin.headers)
    clock.advance(timedelta(minutes=1))
    await client.delete(f"/api/v1/dictionary/{created['id']}", headers=admin.headers)

    events = (
        await client.get(
            "/api/v1/audit-events", params={"entity_type": "dictionary_item", "entity_id": created["id"]}, headers=admin.headers
        )
    ).json()["items"]
    assert [e["action"] for e in events] == ["delete", "update", "create"]
    delete, update, create = events
    assert create["changes"]["label"] == {"before": None, "after": "航运"}
    assert create["request_id"] == "req-create" and create["actor_label"] == admin.username
    assert update["changes"] == {
        "label": {"before": "航运", "after": "航运物流"},
        "sort_order": {"before": 0, "after": 5},
        "updated_at": update["changes"]["updated_at"],
    }
    assert delete["changes"]["value"] == {"before": "shipping", "after": None}


async def test_a_new_interaction_writes_its_audit_event_in_its_change_log_statement(app, client, actors, frozen_clock):
    """One round trip on PostgreSQL for both rows (the event a data-modifying CTE away from the log's row); SQLite,
    whose WITH holds no INSERT, writes them one after the other. Either way both are there, and the event is timed."""
    manager = await actors.make("account_manager")
    customer = await make_customer(client, manager)
    body = {"occurred_on": "2026-06-15", "location": "客户现场", "summary": "回访", "details": "季度回访"}
    with count_statements(app.state.db.engine) as statements:
        created = await client.post(f"{BASE}/{customer['id']}/interactions", json=body, headers=manager.headers)
    assert created.status_code == 201, created.text
    visit = created.json()
    written = [s for s in statements if "INSERT INTO audit_events" in s or "INSERT INTO change_log" in s]
    on_postgresql = app.state.db.dialect == "postgresql"
    assert len(written) == (1 if on_postgresql else 2), written
    assert on_postgresql == ("INSERT INTO change_log" in written[0] and "INSERT INTO audit_events" in written[0])
    admin = await actors.make("admin")
    params = {"entity_type": "interaction", "entity_id": visit["id"]}
    [event] = (await client.get("/api/v1/audit-events", params=params, headers=admin.headers)).json()["items"]
    assert event["action"] == "create" and event["changes"]["summary"] == {"before": None, "after": "回访"}
    assert event["occurred_at"] == clock.now().isoformat().replace("+00:00", "Z")


async def test_a_refused_change_leaves_no_audit_event(client, actors):
    admin = await actors.make("admin")
    await client.post("/api/v1/teams", json={"name": "A"}, headers=admin.headers)
    await client.post("/api/v1/teams", json={"name": "A"}, headers=admin.headers)
    events = (
        await client.get("/api/v1/audit-events", params={"entity_type": "team", "with_total": True}, headers=admin.headers)
    ).json()
    assert events["total"] == 1


async def test_audit_filters_by_actor_and_time(client, actors, frozen_clock):
    first = await actors.make("admin")
    second = await actors.make("admin")
    await client.post("/api/v1/teams", json={"name": "A"}, headers=first.headers)
    clock.advance(timedelta(hours=1))
    reader = actors.headers_for(second.id)  # tokens signed before the hour have expired
    await client.post("/api/v1/teams", json={"name": "B"}, headers=reader)
    by_first = (await client.get("/api/v1/audit-events", params={"actor_id": first.id}, headers=reader)).json()["items"]
    assert [e["changes"]["name"]["after"] for e in by_first] == ["A"]
    later = frozen_clock + timedelta(minutes=30)
    recent = (await client.get("/api/v1/audit-events", params={"from": later.isoformat()}, headers=reader)).json()["items"]
    assert [e["changes"]["name"]["after"] for e in recent] == ["B"]


@pytest.mark.parametrize("role", ["sales_supervisor", "account_manager", "marketer"])
async def test_only_admins_and_executives_read_the_audit_trail(client, actors, role):
    caller = await actors.make(role)
    assert_problem(await client.get("/api/v1/audit-events", headers=caller.headers), 403)
    executive = await actors.make("executive")
    assert (await client.get("/api/v1/audit-events", headers=executive.headers)).status_code == 200


async def test_no_endpoint_changes_audit_events(app):
    methods = {method for path, route in api_routes(app) if path.startswith("/api/v1/audit-events") for method in route.methods}
    assert "GET" in methods and methods <= {"GET", "HEAD"}
