"""The rules live in the service: calling it directly, without the routes' permission checks, still refuses."""

import pytest

from crm_api.auth.principal import principal_for_user
from crm_api.core.errors import Conflict, Forbidden
from crm_api.opportunities import service
from crm_api.opportunities.policy import RULES, OpportunityAction
from crm_api.opportunities.schemas import AssignBody, OpportunityCreate, PlanItemCreate


async def _principal(session, actor):
    found = await principal_for_user(session, actor.id)
    assert found is not None
    return found[0]


async def test_service_refuses_what_the_rules_refuse(session, actors):
    creator_actor = await actors.make("account_manager", team="east")
    supervisor_actor = await actors.make("sales_supervisor", team="east")
    assignee_actor = await actors.make("account_manager", team="east")
    creator, supervisor, assignee = [await _principal(session, a) for a in (creator_actor, supervisor_actor, assignee_actor)]
    data = OpportunityCreate(customer_name="Acme", success_probability=10, summary="s", description="d")
    opportunity = await service.create(session, creator, data)

    with pytest.raises(Forbidden) as refused:
        await service.assign(session, creator, opportunity.id, AssignBody(assignee_id=assignee.user_id))
    assert refused.value.code == "auth.missing_permission"
    with pytest.raises(Forbidden) as refused:
        await service.delete(session, supervisor, opportunity.id)
    assert refused.value.code == "opportunity.not_creator"

    await service.assign(session, supervisor, opportunity.id, AssignBody(assignee_id=assignee.user_id))
    with pytest.raises(Conflict) as conflict:
        await service.assign(session, supervisor, opportunity.id, AssignBody(assignee_id=assignee.user_id))
    assert conflict.value.code == "opportunity.not_unassigned"
    with pytest.raises(Forbidden):
        await service.add_plan_item(session, creator, opportunity.id, PlanItemCreate(planned_on="2026-07-01", content="x"))

    for principal in (creator, supervisor, assignee):
        listed = RULES.allowed_actions(opportunity, principal)
        for action in OpportunityAction:
            if action.value in listed:
                RULES.enforce(action, opportunity, principal)
            else:
                with pytest.raises((Forbidden, Conflict)):
                    RULES.enforce(action, opportunity, principal)
    assert RULES.allowed_actions(opportunity, assignee) == ["plan", "stage", "win", "lose"]
