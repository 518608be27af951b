"""The opportunity's vocabulary and rules (SRS 003 §3.1): statuses, transitions, who sees what.

The model's CHECK constraint, the schemas' enums, the queries and the reports all use these names;
the service enforces `RULES` and every response lists what `RULES` allows the caller.
"""

from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, or_

from crm_api.core.errors import Conflict, DomainError, Forbidden
from crm_api.core.permissions import Principal, scope_clause
from crm_api.core.rules import Check, RuleTable, holds

if TYPE_CHECKING:  # the model imports this module for its statuses
    from crm_api.models.pipeline import Opportunity


class OpportunityStatus(StrEnum):
    UNASSIGNED = "unassigned"
    ASSIGNED = "assigned"
    WON = "won"
    LOST = "lost"


FINAL_STATUSES = frozenset({OpportunityStatus.WON, OpportunityStatus.LOST})
OPEN_STATUSES = frozenset(OpportunityStatus) - FINAL_STATUSES


class OpportunityAction(StrEnum):
    EDIT = "edit"
    DELETE = "delete"
    ASSIGN = "assign"
    PLAN = "plan"
    STAGE = "stage"
    WIN = "win"
    LOSE = "lose"


def _status_is(wanted: OpportunityStatus) -> Check["Opportunity"]:
    def check(opportunity: "Opportunity", _actor: Principal) -> DomainError | None:
        status = opportunity.status
        if status in FINAL_STATUSES:
            return Conflict(f"The opportunity is {status}, which is final", code="opportunity.closed", current_status=status)
        if status != wanted:
            return Conflict(f"Only an {wanted} opportunity allows this", code=f"opportunity.not_{wanted}", current_status=status)
        return None

    return check


def _is_creator(opportunity: "Opportunity", actor: Principal) -> DomainError | None:
    if opportunity.created_by_id != actor.user_id:
        return Forbidden("Only the creator may delete an opportunity", code="opportunity.not_creator")
    return None


def _is_assignee(opportunity: "Opportunity", actor: Principal) -> DomainError | None:
    if opportunity.assignee_id is None or opportunity.assignee_id != actor.user_id:
        return Forbidden("Only the assignee may work this opportunity", code="opportunity.not_assignee")
    return None


# Plans, stages, win and lose: only the assignee, only while assigned.
_ASSIGNEE_WORKS = (holds("opportunities:work"), _is_assignee, _status_is(OpportunityStatus.ASSIGNED))

RULES: RuleTable["Opportunity", OpportunityAction] = RuleTable(
    {
        OpportunityAction.EDIT: (holds("opportunities:create"), _status_is(OpportunityStatus.UNASSIGNED)),
        OpportunityAction.DELETE: (holds("opportunities:create"), _is_creator, _status_is(OpportunityStatus.UNASSIGNED)),
        OpportunityAction.ASSIGN: (holds("opportunities:assign"), _status_is(OpportunityStatus.UNASSIGNED)),
        OpportunityAction.PLAN: _ASSIGNEE_WORKS,
        OpportunityAction.STAGE: _ASSIGNEE_WORKS,
        # Winning creates a customer the assignee will own.
        OpportunityAction.WIN: (*_ASSIGNEE_WORKS, holds("customers:write")),
        OpportunityAction.LOSE: _ASSIGNEE_WORKS,
    }
)


def visible(principal: Principal, permission: str) -> ColumnElement[bool]:
    """Visible when the creator or the assignee is within the caller's scope."""
    from crm_api.models.pipeline import Opportunity

    return or_(
        scope_clause(principal, permission, Opportunity.created_by_id),
        scope_clause(principal, permission, Opportunity.assignee_id),
    )


def reminder_visible(principal: Principal, permission: str) -> ColumnElement[bool]:
    """A reminder is visible when the person it reminds is within the caller's scope."""
    from crm_api.models.pipeline import Reminder

    return scope_clause(principal, permission, Reminder.user_id)
