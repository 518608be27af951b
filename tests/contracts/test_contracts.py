"""Contracts through HTTP: from an accepted quote or for an owned customer, always approved before active."""

import pytest

from tests.concurrency import RACERS, audited, losers_codes, published, race, skip_unless_postgresql, statuses
from tests.factories import assert_problem
from tests.quotes.factories import FLOWS, Desk

API = "/api/v1/contracts"
PERIOD = {"start_date": "2026-07-01", "end_date": "2027-06-30"}


async def _contract_flow(client, admin):
    step = {"name": "销售主管", "approver_kind": "team_role", "approver_role": "sales_supervisor"}
    response = await client.put(f"{FLOWS}/contract", json={"name": "合同审批", "steps": [step]}, headers=admin.headers)
    assert response.status_code == 200, response.text


async def _accepted_quote(desk: Desk) -> dict:
    quote = await desk.quote()
    for action, body in (("submit", {}), ("send", {}), ("accept", {"answered_by": "王经理"})):
        response = await desk.act(quote["id"], action, **body)
        assert response.status_code == 200, response.text
    return response.json()


async def _contract(desk: Desk, **body) -> dict:
    payload = {"customer_id": desk.customer_id, "title": "年度供货合同", "amount": "50000.00", **PERIOD} | body
    response = await desk.client.post(API, json=payload, headers=desk.manager.headers)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
async def desk(client, actors):
    return await Desk(client, actors).set_up()


async def test_access_401_403_and_another_managers_contract_404(client, actors, desk):
    contract = await _contract(desk)
    marketer = await actors.make("marketer")
    other = await actors.make("account_manager", team="east")
    assert_problem(await client.get(API), 401)
    assert_problem(await client.get(API, headers=marketer.headers), 403)
    assert_problem(await client.get(f"{API}/{contract['id']}", headers=other.headers), 404, "contract.not_found")
    body = {"customer_id": desk.customer_id, "title": "T", "amount": "1.00", **PERIOD}
    assert_problem(await client.post(API, json=body, headers=other.headers), 404, "customer.not_found")
    seen = (await client.get(f"{API}/{contract['id']}", headers=desk.supervisor.headers)).json()
    assert seen["allowed_actions"] == []


async def test_a_contract_from_an_accepted_quote_takes_its_total_once(client, desk):
    draft_quote = await desk.quote()
    body = {"quote_id": draft_quote["id"], "title": "供货合同", **PERIOD}
    assert_problem(await client.post(API, json=body, headers=desk.manager.headers), 409, "quote.not_accepted")
    quote = await _accepted_quote(desk)
    contract = await _contract(desk, customer_id=None, amount=None, quote_id=quote["id"])
    assert (contract["amount"], contract["quote_id"], contract["customer_id"]) == (quote["total"], quote["id"], desk.customer_id)
    assert contract["number"].startswith("HT") and contract["status"] == "draft"
    assert contract["allowed_actions"] == ["edit", "submit"]
    again = await client.post(API, json={"quote_id": quote["id"], "title": "再来", **PERIOD}, headers=desk.manager.headers)
    assert_problem(again, 409)


@pytest.mark.parametrize(
    "bad",
    [
        {"amount": None},
        {"amount": "0"},
        {"end_date": "2026-06-30"},
        {"status": "active"},
        {"quote_id": 1},
    ],
)
async def test_bad_contracts_are_422(client, desk, bad):
    payload = {"customer_id": desk.customer_id, "title": "T", "amount": "10.00", **PERIOD} | bad
    assert_problem(await client.post(API, json=payload, headers=desk.manager.headers), 422)


async def test_approval_makes_it_active_and_rejection_returns_it_to_draft(client, app, desk):
    contract = await _contract(desk)
    url = f"{API}/{contract['id']}"
    assert_problem(await client.post(f"{url}/submit", headers=desk.manager.headers), 409, "approval.no_flow")
    await _contract_flow(client, desk.admin)
    pending = (await client.post(f"{url}/submit", headers=desk.manager.headers)).json()
    assert pending["status"] == "pending_approval" and pending["approval"]["status"] == "pending"
    assert_problem(await client.patch(url, json={"title": "x"}, headers=desk.manager.headers), 409, "contract.not_draft")
    rejected = await client.post(
        f"/api/v1/approvals/{pending['approval']['id']}/reject", json={"comment": "金额不对"}, headers=desk.supervisor.headers
    )
    assert rejected.status_code == 200, rejected.text
    draft = (await client.get(url, headers=desk.manager.headers)).json()
    assert draft["status"] == "draft"
    assert draft["approval"]["id"] == pending["approval"]["id"] and draft["approval"]["status"] == "rejected"
    assert draft["approval"]["decided_at"] is not None
    edited = await client.patch(url, json={"amount": "48000.00"}, headers=desk.manager.headers)
    assert edited.json()["amount"] == "48000.00"
    assert_problem(await client.patch(url, json={"end_date": "2026-01-01"}, headers=desk.manager.headers), 422)

    again = (await client.post(f"{url}/submit", headers=desk.manager.headers)).json()
    # The GET and the list read the contract, its sums and its latest request in one statement: the same as the
    # answer to submit.
    assert (await client.get(url, headers=desk.manager.headers)).json() == again
    assert (await client.get(API, headers=desk.manager.headers)).json()["items"] == [again]
    assert again["approval"]["id"] != pending["approval"]["id"] and again["approval"]["current_step_name"] is not None
    await client.post(f"/api/v1/approvals/{again['approval']['id']}/approve", headers=desk.supervisor.headers)
    active = (await client.get(url, headers=desk.manager.headers)).json()
    assert active["status"] == "active" and active["activated_at"] is not None
    assert active["approval"]["id"] == again["approval"]["id"] and active["approval"]["status"] == "approved"
    assert active["allowed_actions"] == ["complete", "terminate", "plan", "collect", "invoice"]
    assert await published(app, "contract.activated") == 1

    assert_problem(await client.post(f"{url}/terminate", json={}, headers=desk.manager.headers), 422)
    terminated = await client.post(f"{url}/terminate", json={"reason": "客户破产"}, headers=desk.manager.headers)
    assert (terminated.json()["status"], terminated.json()["termination_reason"]) == ("terminated", "客户破产")
    assert_problem(await client.post(f"{url}/complete", headers=desk.manager.headers), 409, "contract.not_active")


async def test_concurrent_submits_open_one_request(client, app, settings, desk):
    skip_unless_postgresql(settings)
    await _contract_flow(client, desk.admin)
    contract = await _contract(desk)

    responses = await race(lambda _: client.post(f"{API}/{contract['id']}/submit", headers=desk.manager.headers))

    assert statuses(responses) == {200: 1, 409: RACERS - 1}
    assert losers_codes(responses) <= {"contract.changed", "contract.not_draft"}
    assert await audited(app, "contract", "submit") == 1
    assert await published(app, "approval.requested") == 1
