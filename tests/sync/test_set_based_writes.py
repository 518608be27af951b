"""Writes that go around the per-record path still reach the phones: an import, the follow-up job, a merge."""

from datetime import UTC, datetime

import httpx
from fastapi import FastAPI

from crm_api.core.scheduler import JOBS, run_job
from crm_api.tasks.jobs import FOLLOW_UP_REMINDERS
from tests.churn.factories import make_customer as make_customer_row
from tests.customers.factories import BASE, csv_file, make_contact, make_customer, make_interaction
from tests.factories import Actors
from tests.sync.factories import Device


async def test_imported_customers_reach_the_importers_phone(client: httpx.AsyncClient, actors: Actors):
    manager = await actors.make("account_manager")
    device = Device(manager, types="customers")
    await device.sync(client)

    file = csv_file(["name", "region"], ["上海华信科技有限公司", "shanghai"], ["南京金陵医药有限公司", "jiangsu"])
    response = await client.post(f"{BASE}/import", files=file, headers=manager.headers)
    assert response.status_code == 200, response.text
    await device.sync(client)

    assert sorted(c["name"] for c in device.records["customers"].values()) == ["上海华信科技有限公司", "南京金陵医药有限公司"]


async def test_follow_ups_the_job_opens_reach_the_owners_phone(app: FastAPI, client: httpx.AsyncClient, actors: Actors):
    manager = await actors.make("account_manager")
    customer_id = await make_customer_row(app, manager.id, created_at=datetime(2025, 1, 1, tzinfo=UTC))
    device = Device(manager, types="tasks")
    await device.sync(client)
    assert device.ids("tasks") == set()

    outcome = await run_job(app.state.db, app.state.settings, JOBS[FOLLOW_UP_REMINDERS])
    assert outcome.outcome == "succeeded" and outcome.counts["opened"] == 1
    await device.sync(client)

    [task] = device.records["tasks"].values()
    assert (task["kind"], task["related_id"], task["assignee_id"]) == ("follow_up", customer_id, manager.id)


async def test_records_a_merge_moves_follow_their_new_customer(client: httpx.AsyncClient, actors: Actors):
    supervisor = await actors.make("sales_supervisor", team="east")
    owner, other = await actors.make("account_manager", team="east"), await actors.make("account_manager", team="east")
    survivor = await make_customer(client, owner, name="合并后的客户")
    loser = await make_customer(client, other, name="重复的客户")
    moved_contact = await make_contact(client, other, loser["id"])
    moved_visit = await make_interaction(client, other, loser["id"])
    owner_device, other_device = Device(owner), Device(other)
    await owner_device.sync(client)
    await other_device.sync(client)

    merge = await client.post(f"{BASE}/{survivor['id']}/merge", json={"loser_id": loser["id"]}, headers=supervisor.headers)
    assert merge.status_code == 200, merge.text
    await owner_device.sync(client)
    await other_device.sync(client)

    assert owner_device.records["contacts"][moved_contact["id"]]["customer_id"] == survivor["id"]
    assert owner_device.records["interactions"][moved_visit["id"]]["customer_id"] == survivor["id"]
    assert other_device.ids("customers") == other_device.ids("contacts") == other_device.ids("interactions") == set()
