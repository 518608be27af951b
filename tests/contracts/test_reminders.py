"""The daily installment reminder (SPEC §3.13): owners hear once of each installment due soon and once of each
overdue one; collected installments and contracts not active are left alone."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from crm_api.contracts import reminders
from crm_api.core.clock import clock
from crm_api.models.contract import Installment
from crm_api.models.notification import Notification
from tests.contracts.test_contracts import API
from tests.contracts.test_payments import _active
from tests.quotes.factories import Desk
from tests.webhooks.factories import outbox

JOB = "/api/v1/jobs/installment_reminder/run"


@pytest.fixture
async def desk(client, actors):
    return await Desk(client, actors).set_up()


async def _plan(client, desk, contract, *plan: tuple[str, str]) -> list[dict]:
    url = f"{API}/{contract['id']}/installments"
    created = []
    for due_date, amount in plan:
        response = await client.post(url, json={"due_date": due_date, "amount": amount}, headers=desk.manager.headers)
        assert response.status_code == 201, response.text
        created.append(response.json())
    return created


async def _collect(client, desk, contract, installment, amount: str) -> None:
    url = f"{API}/{contract['id']}/installments/{installment['id']}/receipts"
    body = {"amount": amount, "received_on": "2026-06-15", "method": "bank_transfer"}
    assert (await client.post(url, json=body, headers=desk.manager.headers)).status_code == 201


async def _run(client, desk, days: float = 0) -> dict:
    """Move the clock, then run the job as the admin."""
    clock.advance(timedelta(days=days))
    desk.admin.headers = desk.actors.headers_for(desk.admin.id)
    desk.manager.headers = desk.actors.headers_for(desk.manager.id)
    response = await client.post(JOB, headers=desk.admin.headers)
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "succeeded"
    return response.json()["counts"]


async def _reminders(client, desk) -> list[tuple[str, str, str, str]]:
    """The manager's installment notifications, oldest first: (type, title, path, body)."""
    response = await client.get("/api/v1/notifications", params={"limit": 100}, headers=desk.manager.headers)
    items = [n for n in response.json()["items"] if n["type"].startswith("installment_")]
    return [(n["type"], n["title"], n["path"], n["body"]) for n in reversed(items)]


async def test_each_installment_is_announced_once_per_kind_to_the_contracts_owner(client, app, desk, frozen_clock):
    # 2026-06-15 10:00 in Shanghai; due soon means due by 2026-06-18 (CRM_INSTALLMENT_DUE_SOON_DAYS = 3).
    jobs = (await client.get("/api/v1/jobs", headers=desk.admin.headers)).json()
    assert {"name": "installment_reminder", "cron": "0 8 * * *"} in [{"name": j["name"], "cron": j["cron"]} for j in jobs]
    contract = await _active(client, desk)
    soon, later, collected, late = await _plan(
        client,
        desk,
        contract,
        ("2026-06-17", "10000.00"),
        ("2026-06-25", "10000.00"),
        ("2026-06-16", "5000.00"),
        ("2026-06-10", "5000.00"),
    )
    await _collect(client, desk, contract, collected, "5000.00")
    await _collect(client, desk, contract, late, "1000.00")
    ended = await _active(client, desk)  # terminated with an overdue installment: never announced
    [ended_late] = await _plan(client, desk, ended, ("2026-06-12", "3000.00"))
    body = {"reason": "客户业务调整"}
    assert (await client.post(f"{API}/{ended['id']}/terminate", json=body, headers=desk.manager.headers)).status_code == 200

    assert await _run(client, desk) == {"due_soon": 1, "overdue": 1}
    link = f"/api/v1/contracts/{contract['id']}"
    number = contract["number"]
    assert await _reminders(client, desk) == [
        (
            "installment_due_soon",
            "回款即将到期",
            link,
            f"{number} · {contract['customer_name']}：回款到期日 2026-06-17，未收 10000.00",
        ),
        (
            "installment_overdue",
            "回款已逾期",
            link,
            f"{number} · {contract['customer_name']}：回款到期日 2026-06-10，未收 4000.00",
        ),
    ]
    [event] = await outbox(app, "installment.overdue")
    assert (event.entity_type, event.entity_id) == ("installment", str(late["id"]))
    assert event.payload == {
        "id": late["id"],
        "contract_id": contract["id"],
        "contract_number": number,
        "owner_id": desk.manager.id,
        "due_date": "2026-06-10",
        "amount": "5000.00",
        "collected": "1000.00",
        "outstanding": "4000.00",
    }

    assert await _run(client, desk, days=0.25) == {"due_soon": 0, "overdue": 0}  # the same day again
    assert await _run(client, desk, days=1) == {"due_soon": 0, "overdue": 0}  # the next day
    await _collect(client, desk, contract, soon, "10000.00")  # paid before it fell due: never overdue

    assert await _run(client, desk, days=6) == {"due_soon": 1, "overdue": 0}  # 2026-06-22: `later` is due soon
    assert await _run(client, desk, days=4) == {"due_soon": 0, "overdue": 1}  # 2026-06-26: `later` is overdue
    assert await _run(client, desk, days=1) == {"due_soon": 0, "overdue": 0}
    assert [kind for kind, *_ in await _reminders(client, desk)] == [
        "installment_due_soon",
        "installment_overdue",
        "installment_due_soon",
        "installment_overdue",
    ]
    assert [e.entity_id for e in await outbox(app, "installment.overdue")] == [str(late["id"]), str(later["id"])]
    assert ended_late["id"] not in {int(e.entity_id) for e in await outbox(app, "installment.overdue")}

    # The status each installment shows follows the same rule: overdue = past due with something outstanding.
    plan = (await client.get(f"{API}/{contract['id']}/installments", headers=desk.manager.headers)).json()
    assert {i["id"]: i["status"] for i in plan} == {
        soon["id"]: "paid",
        later["id"]: "overdue",
        collected["id"]: "paid",
        late["id"]: "overdue",
    }


async def test_a_draft_contracts_installments_are_not_announced(client, app, desk, frozen_clock):
    """Only an active contract's plan is announced (a draft's plan can only come from outside the API)."""
    payload = {"customer_id": desk.customer_id, "title": "草稿合同", "amount": "50000.00"}
    draft = await client.post(
        API, json=payload | {"start_date": "2026-06-01", "end_date": "2027-05-31"}, headers=desk.manager.headers
    )
    assert draft.status_code == 201, draft.text
    async with app.state.db.sessionmaker() as session, session.begin():
        for due in (date(2026, 6, 10), date(2026, 6, 16)):
            session.add(Installment(contract_id=draft.json()["id"], due_date=due, amount=Decimal("100.00")))
    async with app.state.db.sessionmaker() as session, session.begin():
        assert await reminders.remind_installments(session, app.state.settings) == {"due_soon": 0, "overdue": 0}
    async with app.state.db.sessionmaker() as session:
        assert (await session.scalars(select(Notification.id).where(Notification.type.like("installment%")))).all() == []
        marked = select(Installment.id).where(
            Installment.due_soon_notified_at.is_not(None) | Installment.overdue_notified_at.is_not(None)
        )
        assert (await session.scalars(marked)).all() == []
    assert await outbox(app, "installment.overdue") == []
