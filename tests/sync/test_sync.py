"""GET /sync: a full snapshot, then changes and tombstones in the caller's scope (SPEC §3.16)."""

import base64
import json
from dataclasses import replace
from datetime import datetime, timedelta

import httpx
from fastapi import FastAPI

from crm_api.core.clock import clock
from crm_api.core.scheduler import JOBS, run_job
from crm_api.sync.jobs import SYNC_LOG_PRUNE
from tests.customers.factories import BASE, make_contact, make_customer, make_interaction
from tests.customers.test_pool import POOL
from tests.factories import Actors, assert_problem
from tests.opportunities.factories import API as OPPORTUNITIES
from tests.opportunities.factories import create_opportunity
from tests.sync.factories import SYNC, Device
from tests.tasks.factories import create_task


async def test_anonymous_is_401_and_a_kind_without_its_permission_is_403(client: httpx.AsyncClient, actors: Actors):
    assert_problem(await client.get(SYNC), 401)
    marketer = await actors.make("marketer")
    assert_problem(await client.get(SYNC, params={"types": "customers"}, headers=marketer.headers), 403)
    # By default a caller syncs every kind it may read: a marketer, its tasks.
    page = (await client.get(SYNC, headers=marketer.headers)).json()
    assert page["tasks"] == {"upserts": [], "deleted": []}
    assert page["customers"] is None and page["more"] is False


def _token(**state: object) -> str:
    """A token crafted by hand, as the API encodes its own."""
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode().rstrip("=")


async def test_unknown_types_and_foreign_tokens_are_422(client: httpx.AsyncClient, actors: Actors):
    manager = await actors.make("account_manager")
    for params, code in [
        ({"types": "customers,invoices"}, "sync.unknown_type"),
        ({"types": ","}, "sync.unknown_type"),
        ({"since": "not-a-token"}, "sync.invalid_token"),
        ({"since": "eyJrIjpbXSwicCI6Wy0xLDBdLCJzIjpudWxsfQ"}, "sync.invalid_token"),  # a negative position
        ({"limit": 0}, None),
        ({"types": "customers", "since": _token(k=["customers"], p=[0, 0], s=["tasks", 0])}, "sync.invalid_token"),
        ({"types": "customers", "since": _token(k=["customers"], p=[0, 2**64], s=None)}, "sync.invalid_token"),
        ({"types": "customers", "since": _token(k="customers", p=[0, 0], s=None)}, "sync.invalid_token"),
        ({"types": "customers", "since": _token(p=[0, 0], s=None)}, "sync.invalid_token"),
    ]:
        assert_problem(await client.get(SYNC, params=params, headers=manager.headers), 422, code)
    token = (await client.get(SYNC, params={"types": "customers"}, headers=manager.headers)).json()["token"]
    other = await client.get(SYNC, params={"types": "customers,contacts", "since": token}, headers=manager.headers)
    assert_problem(other, 422, "sync.types_changed")


async def test_a_full_snapshot_pages_through_the_callers_records_only(client: httpx.AsyncClient, actors: Actors):
    manager, colleague = await actors.make("account_manager"), await actors.make("account_manager")
    mine = [await make_customer(client, manager, name=f"客户{n}") for n in range(5)]
    contact = await make_contact(client, manager, mine[0]["id"])
    visit = await make_interaction(client, manager, mine[1]["id"])
    task = await create_task(client, manager)
    theirs = await make_customer(client, colleague)
    await make_contact(client, colleague, theirs["id"])

    device = Device(manager)
    pages = await device.sync(client, limit=2)

    assert len(pages) >= 4 and all(p["more"] for p in pages[:-1])
    assert device.ids("customers") == {c["id"] for c in mine}
    assert device.ids("contacts") == {contact["id"]}
    assert device.ids("interactions") == {visit["id"]}
    assert device.ids("tasks") == {task["id"]}
    assert device.records["customers"][mine[0]["id"]]["name"] == "客户0"
    # Up to date: nothing changed is an empty page at once.
    again = await device.page(client)
    assert again["more"] is False
    assert all(again[kind] == {"upserts": [], "deleted": []} for kind in ("customers", "contacts", "interactions", "tasks"))


async def test_contacts_and_interactions_page_in_their_customers_order_each_once(client: httpx.AsyncClient, actors: Actors):
    """A child kind's snapshot goes customer by customer (the key is customer and id): records made in turn for
    two customers, so their ids interleave, each arrive once, whatever the page size."""
    manager = await actors.make("account_manager")
    first, second = await make_customer(client, manager, name="甲方客户"), await make_customer(client, manager, name="乙方客户")
    contacts, visits = [], []
    for n in range(3):
        for customer in (second, first):
            contacts.append(await make_contact(client, manager, customer["id"], name=f"联系人{n}"))
            visits.append(await make_interaction(client, manager, customer["id"]))
    for limit in (1, 2, 5):
        device = Device(manager, types="contacts,interactions")
        pages = await device.sync(client, limit=limit)
        sent = [record["id"] for page in pages for kind in ("contacts", "interactions") for record in page[kind]["upserts"]]
        assert sorted(sent) == sorted(record["id"] for record in contacts + visits)  # once each
        assert device.ids("contacts") == {contact["id"] for contact in contacts}
        assert device.ids("interactions") == {visit["id"] for visit in visits}
        # The first customer's contacts come first, though the second's were made first.
        first_page_contacts = [contact["customer_id"] for contact in pages[0]["contacts"]["upserts"]]
        assert first_page_contacts[0] == first["id"]
    # Each record as the API reads it, its customer's name with it.
    for kind, made in (("contacts", contacts[-1]), ("interactions", visits[-1])):
        read = await client.get(f"{BASE}/{made['customer_id']}/{kind}/{made['id']}", headers=manager.headers)
        assert device.records[kind][made["id"]] == read.json()
        assert read.json()["customer_name"] == "甲方客户"

    # A token from before this order (a contact's place as its id alone) starts contacts over: nothing is lost.
    device = Device(manager, types="contacts")
    await device.page(client, limit=1)
    assert device.token is not None
    state = json.loads(base64.urlsafe_b64decode(device.token + "=" * (-len(device.token) % 4)))
    device.token = _token(**(state | {"s": ["contacts", 10**6]}))
    device.records["contacts"].clear()
    await device.sync(client, limit=2)
    assert device.ids("contacts") == {contact["id"] for contact in contacts}


async def test_a_customer_syncs_as_its_get_shows_it_tags_included(client: httpx.AsyncClient, actors: Actors):
    manager = await actors.make("account_manager")
    tagged = await make_customer(client, manager, tags=["重点", "华东"])
    plain = await make_customer(client, manager, name="无标签贸易有限公司", phone=None)
    device = Device(manager)
    await device.sync(client)
    for customer in (tagged, plain):
        shown = (await client.get(f"{BASE}/{customer['id']}", headers=manager.headers)).json()
        assert device.records["customers"][customer["id"]] == shown
    assert device.records["customers"][tagged["id"]]["tags"] == ["华东", "重点"]
    assert device.records["customers"][plain["id"]]["tags"] == []

    assert (await client.patch(f"{BASE}/{tagged['id']}", json={"tags": ["华南"]}, headers=manager.headers)).status_code == 200
    page = (await device.sync(client))[-1]
    assert [(c["id"], c["tags"]) for c in page["customers"]["upserts"]] == [(tagged["id"], ["华南"])]


async def test_changes_arrive_as_upserts_and_deletes_as_tombstones(client: httpx.AsyncClient, actors: Actors):
    manager = await actors.make("account_manager")
    customer = await make_customer(client, manager)
    contact = await make_contact(client, manager, customer["id"])
    visit = await make_interaction(client, manager, customer["id"])
    task = await create_task(client, manager)
    device = Device(manager)
    await device.sync(client)

    await client.patch(f"{BASE}/{customer['id']}", json={"address": "浦东新区张江路 1 号"}, headers=manager.headers)
    await client.patch(f"{BASE}/{customer['id']}/contacts/{contact['id']}", json={"title": "总经理"}, headers=manager.headers)
    added = await make_contact(client, manager, customer["id"], name="王伟")
    assert (
        await client.delete(f"{BASE}/{customer['id']}/interactions/{visit['id']}", headers=manager.headers)
    ).status_code == 204
    assert (await client.delete(f"/api/v1/tasks/{task['id']}", headers=manager.headers)).status_code == 204
    page = (await device.sync(client))[-1]

    assert [c["address"] for c in page["customers"]["upserts"]] == ["浦东新区张江路 1 号"]
    assert {c["id"]: c["title"] for c in page["contacts"]["upserts"]} == {contact["id"]: "总经理", added["id"]: "采购经理"}
    assert page["interactions"] == {"upserts": [], "deleted": [visit["id"]]}
    assert page["tasks"] == {"upserts": [], "deleted": [task["id"]]}


async def test_a_transferred_customer_leaves_its_old_owner_and_reaches_its_new_one(client: httpx.AsyncClient, actors: Actors):
    supervisor = await actors.make("sales_supervisor", team="east")
    old, new = await actors.make("account_manager", team="east"), await actors.make("account_manager", team="east")
    customer = await make_customer(client, old)
    contact = await make_contact(client, old, customer["id"])
    visit = await make_interaction(client, old, customer["id"])
    kept = await make_customer(client, old, name="留下的客户")
    old_device, new_device = Device(old), Device(new)
    await old_device.sync(client)
    await new_device.sync(client)
    assert new_device.ids("customers") == set()

    response = await client.post(f"{BASE}/{customer['id']}/transfer", json={"owner_id": new.id}, headers=supervisor.headers)
    assert response.status_code == 200, response.text
    await old_device.sync(client)
    await new_device.sync(client)

    assert old_device.ids("customers") == {kept["id"]}
    assert old_device.ids("contacts") == set() and old_device.ids("interactions") == set()
    assert new_device.ids("customers") == {customer["id"]}
    assert new_device.ids("contacts") == {contact["id"]} and new_device.ids("interactions") == {visit["id"]}
    assert new_device.records["customers"][customer["id"]]["owner_id"] == new.id


async def test_released_and_deleted_customers_are_tombstones_with_their_records(client: httpx.AsyncClient, actors: Actors):
    manager = await actors.make("account_manager")
    released, deleted = await make_customer(client, manager, name="放回公海"), await make_customer(client, manager, name="删除")
    released_contact = await make_contact(client, manager, released["id"])
    deleted_visit = await make_interaction(client, manager, deleted["id"])
    device = Device(manager)
    await device.sync(client)

    release = await client.post(f"{BASE}/{released['id']}/release", json={"reason": "不再跟进"}, headers=manager.headers)
    assert release.status_code == 200, release.text
    assert (await client.delete(f"{BASE}/{deleted['id']}", headers=manager.headers)).status_code == 204
    page = (await device.sync(client))[-1]

    assert set(page["customers"]["deleted"]) == {released["id"], deleted["id"]}
    assert page["contacts"]["deleted"] == [released_contact["id"]]
    assert page["interactions"]["deleted"] == [deleted_visit["id"]]
    assert device.ids("customers") == device.ids("contacts") == device.ids("interactions") == set()

    # Restored, the customer and its interaction come back.
    assert (await client.post(f"{BASE}/{deleted['id']}/restore", headers=manager.headers)).status_code == 200
    await device.sync(client)
    assert device.ids("customers") == {deleted["id"]} and device.ids("interactions") == {deleted_visit["id"]}


async def test_a_reassigned_task_leaves_its_old_assignee(client: httpx.AsyncClient, actors: Actors):
    supervisor = await actors.make("sales_supervisor", team="east")
    first, second = await actors.make("account_manager", team="east"), await actors.make("account_manager", team="east")
    task = await create_task(client, supervisor, assignee_id=first.id)
    first_device, second_device, supervisor_device = Device(first), Device(second), Device(supervisor, types="tasks")
    for device in (first_device, second_device, supervisor_device):
        await device.sync(client)
    assert first_device.ids("tasks") == {task["id"]} and second_device.ids("tasks") == set()

    response = await client.patch(f"/api/v1/tasks/{task['id']}", json={"assignee_id": second.id}, headers=supervisor.headers)
    assert response.status_code == 200, response.text
    for device in (first_device, second_device, supervisor_device):
        await device.sync(client)

    assert first_device.ids("tasks") == set()
    assert second_device.ids("tasks") == {task["id"]}
    assert supervisor_device.records["tasks"][task["id"]]["assignee_id"] == second.id


async def test_a_colleagues_changes_never_reach_the_caller(client: httpx.AsyncClient, actors: Actors):
    manager, colleague = await actors.make("account_manager"), await actors.make("account_manager")
    device = Device(manager)
    await device.sync(client)
    theirs = await make_customer(client, colleague)
    await make_contact(client, colleague, theirs["id"])
    assert (await client.delete(f"{BASE}/{theirs['id']}", headers=colleague.headers)).status_code == 204

    page = (await device.sync(client))[-1]
    assert page["customers"] == {"upserts": [], "deleted": []}
    assert page["contacts"] == {"upserts": [], "deleted": []}


async def test_a_customer_claimed_from_the_pool_reaches_its_claimant_with_its_records(client: httpx.AsyncClient, actors: Actors):
    owner, claimant = await actors.make("account_manager"), await actors.make("account_manager")
    customer = await make_customer(client, owner)
    contact = await make_contact(client, owner, customer["id"])
    await client.post(f"{BASE}/{customer['id']}/release", json={"reason": "不再跟进"}, headers=owner.headers)
    device = Device(claimant)
    await device.sync(client)
    assert device.ids("customers") == set()

    claimed = await client.post(f"{BASE}/{customer['id']}/claim", headers=claimant.headers)
    assert claimed.status_code == 200, claimed.text
    await device.sync(client)

    assert device.ids("customers") == {customer["id"]} and device.ids("contacts") == {contact["id"]}


async def test_opportunities_sync_by_creator_and_assignee(client: httpx.AsyncClient, actors: Actors):
    manager = await actors.make("account_manager")
    opportunity = await create_opportunity(client, manager)
    device = Device(manager, types="opportunities")
    await device.sync(client)
    assert device.ids("opportunities") == {opportunity["id"]}

    response = await client.patch(f"{OPPORTUNITIES}/{opportunity['id']}", json={"summary": "扩大采购"}, headers=manager.headers)
    assert response.status_code == 200, response.text
    await device.sync(client)
    assert device.records["opportunities"][opportunity["id"]]["summary"] == "扩大采购"


async def test_a_token_from_before_the_pruned_log_is_410_and_a_fresh_sync_goes_on(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors, frozen_clock: datetime
):
    manager = await actors.make("account_manager")
    customer = await make_customer(client, manager)
    device = Device(manager, types="customers")
    await device.sync(client)
    stale = device.token
    await client.patch(f"{BASE}/{customer['id']}", json={"address": "旧地址"}, headers=manager.headers)
    clock.advance(timedelta(days=app.state.settings.sync_log_retention_days + 1))
    manager.headers = actors.headers_for(manager.id)  # signed in again, months later
    kept = await client.patch(f"{BASE}/{customer['id']}", json={"postal_code": "200000"}, headers=manager.headers)
    assert kept.status_code == 200, kept.text

    outcome = await run_job(app.state.db, app.state.settings, JOBS[SYNC_LOG_PRUNE])
    assert outcome.outcome == "succeeded" and outcome.counts["removed"] >= 1

    expired = await client.get(SYNC, params={"types": "customers", "since": stale}, headers=manager.headers)
    assert_problem(expired, 410, "sync.token_expired")
    fresh = Device(manager, types="customers")
    await fresh.sync(client)
    assert fresh.records["customers"][customer["id"]]["address"] == "旧地址"
    await client.patch(f"{BASE}/{customer['id']}", json={"address": "新地址"}, headers=manager.headers)
    await fresh.sync(client)
    assert fresh.records["customers"][customer["id"]]["address"] == "新地址"


async def test_the_recycle_job_warns_then_takes_a_neglected_customer_off_its_owners_phone(
    client: httpx.AsyncClient, actors: Actors, frozen_clock: datetime
):
    admin, owner = await actors.make("admin"), await actors.make("account_manager")
    rules = {"rules": [{"level": None, "no_interaction_days": 30, "warning_days": 3}]}
    assert (await client.put(f"{POOL}/recycle-rules", json=rules, headers=admin.headers)).status_code == 200
    neglected = await make_customer(client, owner, name="久未跟进")
    contact = await make_contact(client, owner, neglected["id"])
    kept = await make_customer(client, owner, name="已锁定")
    device = Device(owner)
    await device.sync(client)
    assert (await client.post(f"{BASE}/{kept['id']}/lock", headers=owner.headers)).status_code == 200

    async def run_on(day: int) -> dict[str, int]:
        clock.advance(timedelta(days=day) - (clock.now() - frozen_clock))
        ran = await client.post("/api/v1/jobs/pool_recycle/run", headers=actors.headers_for(admin.id))
        assert ran.status_code == 200, ran.text
        device.actor = replace(owner, headers=actors.headers_for(owner.id))  # a token of the moved clock
        counts: dict[str, int] = ran.json()["counts"]
        return counts

    assert await run_on(28) == {"recycled": 0, "warned": 1}
    await device.sync(client)
    [warning] = device.records["tasks"].values()
    assert (warning["related_id"], warning["status"]) == (neglected["id"], "open")

    assert await run_on(31) == {"recycled": 1, "warned": 0}
    page = (await device.sync(client))[-1]

    assert page["customers"]["deleted"] == [neglected["id"]] and page["contacts"]["deleted"] == [contact["id"]]
    assert device.ids("customers") == {kept["id"]} and device.ids("contacts") == set()
    assert device.records["customers"][kept["id"]]["locked"] is True
    assert device.records["tasks"][warning["id"]]["status"] == "cancelled"
