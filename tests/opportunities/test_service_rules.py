"""The rules live in the service: calling it directly, without the routes' permission checks, still refuses."""

from itertools import count

from crm_api.opportunities import service
from crm_api.opportunities.policy import RULES, OpportunityAction
from crm_api.opportunities.schemas import AssignBody, OpportunityCreate, OpportunityUpdate, PlanItemCreate, WinBody
from tests.policy_matrix import accepted_actions, principal_of

# What each caller may do in each status; every other cell accepts nothing.
EXPECTED = {
    ("creator", "unassigned"): {"edit", "delete"},
    ("supervisor", "unassigned"): {"edit", "assign"},
    ("assignee", "assigned"): {"plan", "stage", "win", "lose"},
}


async def test_service_accepts_exactly_what_the_rules_allow(session, actors):
    people = {
        "creator": await actors.make("account_manager", team="east"),
        "supervisor": await actors.make("sales_supervisor", team="east"),
        "assignee": await actors.make("account_manager", team="east"),
    }
    principals = {name: await principal_of(session, actor) for name, actor in people.items()}
    assignee = AssignBody(assignee_id=people["assignee"].id)
    serial = count(1)

    async def opportunity_in(status: str):
        # A company of its own each time: a win makes its customer, and the duplicate guard allows one.
        data = OpportunityCreate(customer_name=f"Acme {next(serial)}", success_probability=10, summary="s", description="d")
        opportunity = await service.create(session, principals["creator"], data)
        if status != "unassigned":
            opportunity = await service.assign(session, principals["supervisor"], opportunity.id, assignee)
        if status == "won":
            opportunity, _ = await service.win(session, principals["assignee"], opportunity.id, WinBody())
        if status == "lost":
            opportunity = await service.lose(session, principals["assignee"], opportunity.id, None)
        return opportunity

    plan = PlanItemCreate(planned_on="2026-07-01", content="Call")
    matrix = await accepted_actions(
        RULES,
        statuses=["unassigned", "assigned", "won", "lost"],
        principals=principals,
        record_in=opportunity_in,
        attempts={
            OpportunityAction.EDIT: lambda p, o: service.update(session, p, o.id, OpportunityUpdate(summary="Changed")),
            OpportunityAction.DELETE: lambda p, o: service.delete(session, p, o.id),
            OpportunityAction.ASSIGN: lambda p, o: service.assign(session, p, o.id, assignee),
            OpportunityAction.PLAN: lambda p, o: service.add_plan_item(session, p, o.id, plan),
            OpportunityAction.STAGE: lambda p, o: service.change_stage(session, p, o.id, "proposal"),
            OpportunityAction.WIN: lambda p, o: service.win(session, p, o.id, WinBody()),
            OpportunityAction.LOSE: lambda p, o: service.lose(session, p, o.id, None),
        },
    )

    assert {cell: accepted for cell, accepted in matrix.items() if accepted} == EXPECTED
