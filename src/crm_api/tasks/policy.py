"""The task's vocabulary and rules (SPEC §3.10): statuses and kinds, open → done | cancelled, who sees what."""

from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, or_

from crm_api.core.permissions import Principal, scope_clause
from crm_api.core.rules import RuleTable, conflict, holds, status_in

if TYPE_CHECKING:  # the model imports this module for its statuses
    from crm_api.models.collaboration import Task


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class TaskPriority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


class TaskKind(StrEnum):
    MANUAL = "manual"  # a person wrote it
    FOLLOW_UP = "follow_up"  # the follow-up job opened it for a customer nobody has contacted
    RECYCLE_WARNING = "recycle_warning"  # the recycle job warns the owner their customer goes back to the pool soon


class TaskRelatedType(StrEnum):
    CUSTOMER = "customer"
    OPPORTUNITY = "opportunity"
    SERVICE_TICKET = "service_ticket"
    LEAD = "lead"


class TaskAction(StrEnum):
    EDIT = "edit"
    COMPLETE = "complete"
    CANCEL = "cancel"


# Only open tasks change; done and cancelled are final.
_OPEN = (
    holds("tasks:write"),
    status_in((TaskStatus.OPEN,), conflict("task.not_open", "The task is {status}; only open tasks change")),
)

RULES: RuleTable["Task", TaskAction] = RuleTable(dict.fromkeys(TaskAction, _OPEN))


def visible(principal: Principal, permission: str) -> ColumnElement[bool]:
    """Visible when the assignee or the creator is within the caller's scope."""
    from crm_api.models.collaboration import Task

    return or_(scope_clause(principal, permission, Task.assignee_id), scope_clause(principal, permission, Task.created_by_id))
