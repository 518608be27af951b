"""The churn rules live in the service: for every role and status it accepts exactly what allowed_actions offers."""

import itertools

from crm_api.churn import service
from crm_api.churn.policy import RULES, ChurnWarningAction, OwnedWarning
from crm_api.churn.schemas import ConfirmChurn, MeasureCreate
from crm_api.models.churn import ChurnMeasure, ChurnWarning
from crm_api.models.customer import Customer
from tests.policy_matrix import accepted_actions, principal_of

# SPEC §3.6: the owner adds measures; confirming needs churn:manage and a measure first; confirmed is final.
EXPECTED = {
    ("owner", "open"): {"add_measure"},
    ("owner", "postponed"): {"add_measure", "confirm"},
    ("supervisor", "postponed"): {"confirm"},
}


async def test_service_accepts_exactly_what_the_rules_allow(session, settings, actors):
    people = {
        "owner": await actors.make("account_manager", team="East"),
        "supervisor": await actors.make("sales_supervisor", team="East"),
    }
    principals = {name: await principal_of(session, actor) for name, actor in people.items()}
    owner_id = people["owner"].id
    numbers = itertools.count(1)  # the customers are written in this test's session, not by the factory's own

    async def warning_in(status: str) -> OwnedWarning:
        number = next(numbers)
        customer = Customer(code=f"KHS{number:05d}", name=f"Customer {number}", owner_id=owner_id)
        session.add(customer)
        await session.flush()
        warning = ChurnWarning(customer_id=customer.id, status=status)
        session.add(warning)
        await session.flush()
        if status != "open":  # postponed and confirmed warnings carry their measures
            session.add(ChurnMeasure(warning_id=warning.id, measure="m", author_id=owner_id))
        return OwnedWarning(warning, owner_id)

    matrix = await accepted_actions(
        RULES,
        statuses=["open", "postponed", "confirmed"],
        principals=principals,
        record_in=warning_in,
        attempts={
            ChurnWarningAction.ADD_MEASURE: lambda p, w: service.add_measure(
                session, p, settings, w.warning.id, MeasureCreate(measure="回访")
            ),
            ChurnWarningAction.CONFIRM: lambda p, w: service.confirm(
                session, p, settings, w.warning.id, ConfirmChurn(reason="倒闭")
            ),
        },
    )

    assert matrix == {cell: EXPECTED.get(cell, set()) for cell in matrix}
