"""A stand-in subject for the engine's tests: the engine must work for any subject that registers."""

from dataclasses import dataclass, field
from decimal import Decimal

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.approvals import service
from crm_api.approvals.policy import ApprovalStatus
from crm_api.approvals.subjects import SubjectFacts, register_subject
from crm_api.core.permissions import Principal
from tests.factories import Actor
from tests.policy_matrix import principal_of

API = "/api/v1/approvals"
FLOWS = "/api/v1/approval-flows"
SUBJECT = "test_purchase"


@dataclass
class Purchases:
    """Amounts by subject id, and the outcomes the engine reported."""

    amounts: dict[int, Decimal] = field(default_factory=dict)
    outcomes: list[tuple[int, ApprovalStatus]] = field(default_factory=list)

    async def facts(self, session: AsyncSession, subject_id: int) -> SubjectFacts:
        return SubjectFacts(
            title=f"Purchase {subject_id}",
            link=f"/api/v1/purchases/{subject_id}",
            amount=self.amounts.get(subject_id),
            max_discount=Decimal("5.00"),
        )

    async def settled(self, session: AsyncSession, subject_id: int, outcome: ApprovalStatus, actor: Principal) -> None:
        self.outcomes.append((subject_id, outcome))


PURCHASES = Purchases()
register_subject(SUBJECT, PURCHASES)

SUPERVISOR_THEN_EXECUTIVE = {
    "name": "Purchases",
    "steps": [
        {"name": "Team supervisor", "approver_kind": "team_role", "approver_role": "sales_supervisor"},
        {
            "name": "Executive for large purchases",
            "approver_kind": "role",
            "approver_role": "executive",
            "condition": {"field": "amount", "operator": ">=", "value": "100000"},
        },
    ],
}


async def define_flow(client, admin: Actor, body: dict | None = None) -> dict:
    response = await client.put(f"{FLOWS}/{SUBJECT}", json=body or SUPERVISOR_THEN_EXECUTIVE, headers=admin.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def request_approval(app: FastAPI, requester: Actor, subject_id: int, amount: str = "5000") -> int:
    """Submits purchase `subject_id` as the requester would through its own domain."""
    PURCHASES.amounts[subject_id] = Decimal(amount)
    async with app.state.db.sessionmaker() as session, session.begin():
        request = await service.open_request(
            session, await principal_of(session, requester), subject_type=SUBJECT, subject_id=subject_id
        )
        return request.id
