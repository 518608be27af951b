"""Payment plans, receipts and invoices of an active contract (SPEC §3.13)."""

from datetime import timedelta

import pytest

from crm_api.core.clock import clock
from tests.concurrency import RACERS, published, race, skip_unless_postgresql, statuses
from tests.contracts.test_contracts import API, _contract, _contract_flow
from tests.factories import assert_problem
from tests.quotes.factories import Desk


@pytest.fixture
async def desk(client, actors):
    return await Desk(client, actors).set_up()


async def _active(client, desk, amount="50000.00"):
    await _contract_flow(client, desk.admin)
    contract = await _contract(desk, amount=amount, start_date="2026-06-01", end_date="2027-05-31")
    submitted = (await client.post(f"{API}/{contract['id']}/submit", headers=desk.manager.headers)).json()
    await client.post(f"/api/v1/approvals/{submitted['approval']['id']}/approve", headers=desk.supervisor.headers)
    return contract


async def test_the_plan_may_not_exceed_the_amount_and_needs_an_active_contract(client, desk):
    draft = await _contract(desk)
    body = {"due_date": "2030-08-01", "amount": "100.00"}
    assert_problem(
        await client.post(f"{API}/{draft['id']}/installments", json=body, headers=desk.manager.headers),
        409,
        "contract.not_active",
    )
    contract = await _active(client, desk)
    url = f"{API}/{contract['id']}/installments"
    for due, amount in (("2030-08-01", "30000.00"), ("2030-12-01", "20000.00")):
        assert (await client.post(url, json={"due_date": due, "amount": amount}, headers=desk.manager.headers)).status_code == 201
    over = await client.post(url, json={"due_date": "2031-01-01", "amount": "0.01"}, headers=desk.manager.headers)
    assert_problem(over, 422, "contract.plan_over_amount")
    assert_problem(await client.post(url, json=body, headers=desk.supervisor.headers), 403, "contract.not_owner")
    plan = (await client.get(url, headers=desk.manager.headers)).json()
    assert [(i["amount"], i["status"]) for i in plan] == [("30000.00", "pending"), ("20000.00", "pending")]


async def test_a_plan_is_read_only_within_the_contracts_scope(client, actors, desk):
    contract = await _active(client, desk)
    url = f"{API}/{contract['id']}/installments"
    assert (await client.get(url, headers=desk.manager.headers)).json() == []  # no plan yet, and no 404
    await client.post(url, json={"due_date": "2030-12-01", "amount": "20000.00"}, headers=desk.manager.headers)
    await client.post(url, json={"due_date": "2030-08-01", "amount": "30000.00"}, headers=desk.manager.headers)
    by_due_date = [("2030-08-01", "30000.00"), ("2030-12-01", "20000.00")]
    for reader in (desk.manager, desk.supervisor):
        plan = (await client.get(url, headers=reader.headers)).json()
        assert [(i["due_date"], i["amount"]) for i in plan] == by_due_date
    other = await actors.make("account_manager", team="east")
    assert_problem(await client.get(url, headers=other.headers), 404, "contract.not_found")
    assert_problem(await client.get(f"{API}/{contract['id'] + 1000}/installments", headers=desk.manager.headers), 404)


async def test_receipts_collect_up_to_the_installment_and_statuses_follow(client, app, desk, frozen_clock):
    contract = await _active(client, desk)
    url = f"{API}/{contract['id']}/installments"
    first = (await client.post(url, json={"due_date": "2026-07-01", "amount": "30000.00"}, headers=desk.manager.headers)).json()
    second = (await client.post(url, json={"due_date": "2026-06-20", "amount": "20000.00"}, headers=desk.manager.headers)).json()
    receipts = f"{url}/{first['id']}/receipts"
    paid = {"amount": "10000.00", "received_on": "2026-06-15", "method": "bank_transfer"}
    assert (await client.post(receipts, json=paid, headers=desk.manager.headers)).status_code == 201
    assert {i["id"]: i["status"] for i in (await client.get(url, headers=desk.manager.headers)).json()} == {
        first["id"]: "partial",
        second["id"]: "pending",
    }
    assert (await client.post(receipts, json={**paid, "amount": "20000.00"}, headers=desk.manager.headers)).status_code == 201
    refused = await client.post(receipts, json={**paid, "amount": "0.01"}, headers=desk.manager.headers)
    assert assert_problem(refused, 409, "installment.over_collected")["outstanding"] == "0.00"
    assert_problem(await client.post(f"{url}/999999/receipts", json=paid, headers=desk.manager.headers), 404)

    clock.advance(timedelta(days=6))  # 2026-06-21: the second installment's due date has passed
    desk.manager.headers = desk.actors.headers_for(desk.manager.id)
    assert {i["id"]: i["status"] for i in (await client.get(url, headers=desk.manager.headers)).json()} == {
        first["id"]: "paid",
        second["id"]: "overdue",
    }
    read = (await client.get(f"{API}/{contract['id']}", headers=desk.manager.headers)).json()
    assert (read["collected"], read["outstanding"]) == ("30000.00", "20000.00")
    # The list reads each contract's sums in its one statement: the same as the contract's own GET.
    listed = (await client.get(API, headers=desk.manager.headers, params={"customer_id": contract["customer_id"]})).json()
    assert listed["items"] == [read]
    assert await published(app, "payment.received") == 2


async def test_receipts_in_cents_add_up_exactly_to_the_installment(client, desk):
    """0.10 + 0.20 collects 0.30 exactly (SQLite would add them as binary floats, just past 0.30)."""
    contract = await _active(client, desk)
    url = f"{API}/{contract['id']}/installments"
    installment = (await client.post(url, json={"due_date": "2030-08-01", "amount": "0.30"}, headers=desk.manager.headers)).json()
    for amount in ("0.10", "0.20"):
        body = {"amount": amount, "received_on": "2026-06-15", "method": "cash"}
        response = await client.post(f"{url}/{installment['id']}/receipts", json=body, headers=desk.manager.headers)
        assert response.status_code == 201, response.text
    [paid] = (await client.get(url, headers=desk.manager.headers)).json()
    assert (paid["collected"], paid["status"]) == ("0.30", "paid")


async def test_invoices_may_not_total_more_than_the_amount(client, desk):
    contract = await _active(client, desk)
    url = f"{API}/{contract['id']}/invoices"
    invoice = {"kind": "vat_special", "number": "No.00012345", "amount": "30000.00", "issued_on": "2026-06-20"}
    assert (await client.post(url, json=invoice, headers=desk.manager.headers)).status_code == 201
    more = {**invoice, "number": "No.00012346", "amount": "20000.01", "kind": "vat_ordinary"}
    assert_problem(await client.post(url, json=more, headers=desk.manager.headers), 409, "contract.over_invoiced")
    assert_problem(await client.post(url, json={**invoice, "kind": "receipt"}, headers=desk.manager.headers), 422)
    assert [i["number"] for i in (await client.get(url, headers=desk.manager.headers)).json()] == ["No.00012345"]
    assert (await client.get(f"{API}/{contract['id']}", headers=desk.manager.headers)).json()["invoiced"] == "30000.00"


async def test_concurrent_receipts_plans_and_invoices_never_exceed_their_bound(client, app, settings, desk):
    skip_unless_postgresql(settings)
    contract = await _active(client, desk, amount="50000.00")
    url = f"{API}/{contract['id']}"

    plans = await race(
        lambda _: client.post(
            f"{url}/installments", json={"due_date": "2026-09-01", "amount": "5000.00"}, headers=desk.manager.headers
        )
    )
    assert statuses(plans) == {201: 10, 422: RACERS - 10}
    installment = plans[[r.status_code for r in plans].index(201)].json()

    receipt = {"amount": "2000.00", "received_on": "2026-06-15", "method": "cash"}
    collected = await race(
        lambda _: client.post(f"{url}/installments/{installment['id']}/receipts", json=receipt, headers=desk.manager.headers)
    )
    assert statuses(collected) == {201: 2, 409: RACERS - 2}

    invoices = await race(
        lambda n: client.post(
            f"{url}/invoices",
            json={"kind": "vat_ordinary", "number": f"INV-{n}", "amount": "10000.00", "issued_on": "2026-06-20"},
            headers=desk.manager.headers,
        )
    )
    assert statuses(invoices) == {201: 5, 409: RACERS - 5}
    read = (await client.get(url, headers=desk.manager.headers)).json()
    assert (read["collected"], read["invoiced"]) == ("4000.00", "50000.00")
    assert await published(app, "payment.received") == 2
