"""allowed_actions on a contract against what the API really does, per caller and status."""

import pytest

from crm_api.contracts.policy import ContractAction
from tests.contracts.test_contracts import API, _contract, _contract_flow
from tests.quotes.factories import Desk

STATUSES = ["draft", "pending_approval", "active", "completed", "terminated"]
EXPECTED = {
    ("owner", "draft"): {"edit", "submit"},
    ("owner", "active"): {"complete", "terminate", "plan", "collect", "invoice"},
}
INSTALLMENT = {"due_date": "2030-01-01", "amount": "100.00"}


async def _contract_in(desk: Desk, status: str) -> tuple[int, int | None]:
    """A contract in `status`, and an installment of it to collect on when active."""
    contract = await _contract(desk)
    url = f"{API}/{contract['id']}"
    if status == "draft":
        return contract["id"], None
    submitted = (await desk.client.post(f"{url}/submit", headers=desk.manager.headers)).json()
    if status == "pending_approval":
        return contract["id"], None
    approval = f"/api/v1/approvals/{submitted['approval']['id']}/approve"
    assert (await desk.client.post(approval, headers=desk.supervisor.headers)).status_code == 200
    installment = (await desk.client.post(f"{url}/installments", json=INSTALLMENT, headers=desk.manager.headers)).json()
    if status in {"completed", "terminated"}:
        action = "complete" if status == "completed" else "terminate"
        response = await desk.client.post(
            f"{url}/{action}", json={"reason": "到期"} if action == "terminate" else None, headers=desk.manager.headers
        )
        assert response.status_code == 200, response.text
    return contract["id"], installment["id"]


def _attempt(desk: Desk, action: ContractAction, contract_id: int, installment_id: int | None, headers: dict[str, str]):
    url = f"{API}/{contract_id}"
    match action:
        case ContractAction.EDIT:
            return desk.client.patch(url, json={"title": "改"}, headers=headers)
        case ContractAction.TERMINATE:
            return desk.client.post(f"{url}/terminate", json={"reason": "R"}, headers=headers)
        case ContractAction.PLAN:
            return desk.client.post(f"{url}/installments", json=INSTALLMENT, headers=headers)
        case ContractAction.COLLECT:
            receipt = {"amount": "1.00", "received_on": "2026-06-15", "method": "cash"}
            return desk.client.post(f"{url}/installments/{installment_id or 999999}/receipts", json=receipt, headers=headers)
        case ContractAction.INVOICE:
            invoice = {"kind": "vat_ordinary", "number": f"N-{contract_id}", "amount": "1.00", "issued_on": "2026-06-15"}
            return desk.client.post(f"{url}/invoices", json=invoice, headers=headers)
    return desk.client.post(f"{url}/{action}", headers=headers)


@pytest.mark.parametrize("status", STATUSES)
async def test_allowed_actions_are_exactly_the_accepted_ones(client, actors, status):
    desk = await Desk(client, actors).set_up()
    await _contract_flow(client, desk.admin)
    callers = {
        "owner": desk.manager,
        "supervisor": desk.supervisor,
        "admin": desk.admin,
        "executive": await actors.make("executive"),
    }
    for caller, actor in callers.items():
        shown, installment = await _contract_in(desk, status)
        listed = (await client.get(f"{API}/{shown}", headers=actor.headers)).json()["allowed_actions"]
        assert set(listed) == EXPECTED.get((caller, status), set()), (caller, status)
        target = (shown, installment)
        for action in ContractAction:
            response = await _attempt(desk, action, *target, actor.headers)
            if action.value in listed:
                assert response.status_code in {200, 201}, (caller, status, action, response.text)
                target = await _contract_in(desk, status)
            else:
                assert response.status_code in {403, 409}, (caller, status, action, response.text)
