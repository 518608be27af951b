"""The opportunity state machine as one rule table: the service enforces it, responses list what it allows."""

from collections.abc import Callable
from enum import StrEnum

from crm_api.core.errors import Conflict, DomainError, Forbidden
from crm_api.core.permissions import Principal
from crm_api.models.pipeline import Opportunity

FINAL_STATUSES = frozenset({"won", "lost"})


class Action(StrEnum):
    EDIT = "edit"
    DELETE = "delete"
    ASSIGN = "assign"
    PLAN = "plan"
    STAGE = "stage"
    WIN = "win"
    LOSE = "lose"


Rule = Callable[[Opportunity, Principal], DomainError | None]


def _status_is(opportunity: Opportunity, wanted: str) -> DomainError | None:
    if opportunity.status in FINAL_STATUSES:
        return Conflict(f"The opportunity is {opportunity.status}, which is final", code="opportunity.closed")
    if opportunity.status != wanted:
        return Conflict(f"Only an {wanted} opportunity allows this", code=f"opportunity.not_{wanted}")
    return None


def _holds(actor: Principal, permission: str) -> DomainError | None:
    if not actor.can(permission):
        return Forbidden(f"This action needs the permission {permission}", code="auth.missing_permission")
    return None


def _edit(opportunity: Opportunity, actor: Principal) -> DomainError | None:
    return _holds(actor, "opportunities:create") or _status_is(opportunity, "unassigned")


def _delete(opportunity: Opportunity, actor: Principal) -> DomainError | None:
    refused = _holds(actor, "opportunities:create")
    if refused is not None:
        return refused
    if opportunity.created_by_id != actor.user_id:
        return Forbidden("Only the creator may delete an opportunity", code="opportunity.not_creator")
    return _status_is(opportunity, "unassigned")


def _assign(opportunity: Opportunity, actor: Principal) -> DomainError | None:
    return _holds(actor, "opportunities:assign") or _status_is(opportunity, "unassigned")


def _assignee_works(opportunity: Opportunity, actor: Principal) -> DomainError | None:
    """Plans, stages, win and lose: only the assignee, only while assigned."""
    refused = _holds(actor, "opportunities:work")
    if refused is None and (opportunity.assignee_id is None or opportunity.assignee_id != actor.user_id):
        refused = Forbidden("Only the assignee may work this opportunity", code="opportunity.not_assignee")
    return refused or _status_is(opportunity, "assigned")


def _win(opportunity: Opportunity, actor: Principal) -> DomainError | None:
    # Winning creates a customer the assignee will own.
    return _assignee_works(opportunity, actor) or _holds(actor, "customers:write")


RULES: dict[Action, Rule] = {
    Action.EDIT: _edit,
    Action.DELETE: _delete,
    Action.ASSIGN: _assign,
    Action.PLAN: _assignee_works,
    Action.STAGE: _assignee_works,
    Action.WIN: _win,
    Action.LOSE: _assignee_works,
}


def enforce(action: Action, opportunity: Opportunity, actor: Principal) -> None:
    refusal = RULES[action](opportunity, actor)
    if refusal is not None:
        raise refusal


def allowed_actions(opportunity: Opportunity, actor: Principal) -> list[str]:
    return [action.value for action, rule in RULES.items() if rule(opportunity, actor) is None]
