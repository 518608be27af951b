"""The approval request's vocabulary and rules (SPEC §3.14): statuses, decisions, who may decide, who sees what.

A flow's steps are copied onto the request when it opens (only the steps whose condition holds), so
editing a flow never changes a request already under way; `current_step` is the position of the step
waiting for a decision.
"""

from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import ColumnElement, and_, exists, false, or_

from crm_api.core.errors import DomainError, Forbidden
from crm_api.core.permissions import Principal, scope_clause
from crm_api.core.rules import RuleTable, conflict, holds, status_in

if TYPE_CHECKING:  # the models import this module for its vocabulary
    from crm_api.models.approval import ApprovalRequest


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class ApprovalAction(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    WITHDRAW = "withdraw"


class Decision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"


class ApproverKind(StrEnum):
    """Who decides a step."""

    TEAM_ROLE = "team_role"  # a holder of `approver_role` in the requester's team (e.g. its supervisor)
    USER = "user"  # the named user `approver_user_id`
    ROLE = "role"  # any holder of `approver_role`


class ConditionField(StrEnum):
    AMOUNT = "amount"
    MAX_DISCOUNT = "max_discount"


class ConditionOperator(StrEnum):
    GTE = ">="
    GT = ">"
    LTE = "<="
    LT = "<"


class Approver(Protocol):
    """A step as far as deciding who approves it."""

    approver_kind: str
    approver_role: str | None
    approver_user_id: int | None


def condition_holds(operator: ConditionOperator, threshold: Decimal, value: Decimal | None) -> bool:
    """A step's condition on the subject: a subject without the value (no amount) does not meet it."""
    if value is None:
        return False
    match operator:
        case ConditionOperator.GTE:
            return value >= threshold
        case ConditionOperator.GT:
            return value > threshold
        case ConditionOperator.LTE:
            return value <= threshold
        case ConditionOperator.LT:
            return value < threshold


def is_approver(step: Approver, actor: Principal, requester_team_id: int | None) -> bool:
    if actor.user_id is None:
        return False
    if step.approver_kind == ApproverKind.USER:
        return step.approver_user_id == actor.user_id
    if step.approver_role not in actor.roles:
        return False
    return step.approver_kind == ApproverKind.ROLE or (requester_team_id is not None and actor.team_id == requester_team_id)


def _is_current_approver(request: "ApprovalRequest", actor: Principal) -> DomainError | None:
    step = request.current
    if step is None or not is_approver(step, actor, request.requester_team_id):
        return Forbidden("Only an approver of the current step may decide it", code="approval.not_approver")
    return None


def _is_not_requester(request: "ApprovalRequest", actor: Principal) -> DomainError | None:
    if request.requester_id == actor.user_id:
        return Forbidden("A requester may not decide their own request", code="approval.own_request")
    return None


def _is_requester(request: "ApprovalRequest", actor: Principal) -> DomainError | None:
    if request.requester_id != actor.user_id:
        return Forbidden("Only the requester may withdraw a request", code="approval.not_requester")
    return None


_pending = status_in(
    [ApprovalStatus.PENDING], conflict("approval.not_pending", "The approval request is {status}; only a pending one is decided")
)
READ = "approvals:read"

RULES: RuleTable["ApprovalRequest", ApprovalAction] = RuleTable(
    {
        ApprovalAction.APPROVE: (holds(READ), _pending, _is_current_approver, _is_not_requester),
        ApprovalAction.REJECT: (holds(READ), _pending, _is_current_approver, _is_not_requester),
        ApprovalAction.WITHDRAW: (holds(READ), _pending, _is_requester),
    }
)


def _approver_of_step(principal: Principal, *, current_only: bool) -> ColumnElement[bool]:
    """Some step of the request (or its current one) is the principal's to decide, or was decided by them."""
    from crm_api.models.approval import ApprovalRequest, ApprovalRequestStep

    if principal.user_id is None:
        return false()
    step = ApprovalRequestStep
    by_role = and_(step.approver_kind == ApproverKind.ROLE, step.approver_role.in_(principal.roles))
    by_team_role = and_(
        step.approver_kind == ApproverKind.TEAM_ROLE,
        step.approver_role.in_(principal.roles),
        ApprovalRequest.requester_team_id == principal.team_id,
    )
    by_name = and_(step.approver_kind == ApproverKind.USER, step.approver_user_id == principal.user_id)
    which = [step.request_id == ApprovalRequest.id, or_(by_name, by_role, by_team_role)]
    if current_only:
        which.append(step.position == ApprovalRequest.current_step)
    else:
        which[1] = or_(which[1], step.decided_by_id == principal.user_id)
    return exists().where(*which)


def visible(principal: Principal, permission: str) -> ColumnElement[bool]:
    """Requests whose requester is in the caller's scope, and those the caller approves or approved."""
    from crm_api.models.approval import ApprovalRequest

    return or_(
        scope_clause(principal, permission, ApprovalRequest.requester_id), _approver_of_step(principal, current_only=False)
    )


def pending_for(principal: Principal) -> ColumnElement[bool]:
    """Pending requests whose current step the principal may decide (their own requests left out)."""
    from crm_api.models.approval import ApprovalRequest

    return and_(
        ApprovalRequest.status == ApprovalStatus.PENDING,
        ApprovalRequest.requester_id != principal.user_id,
        _approver_of_step(principal, current_only=True),
    )
