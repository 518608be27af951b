"""The service ticket's vocabulary and rules (SPEC §3.7): statuses, channels, priorities, who may do what.

The model's CHECK constraints, the schemas' enums and the queries use these names; the service
enforces `RULES` and every response lists what `RULES` allows the caller.
"""

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, false, func, literal, or_

from crm_api.core.errors import DomainError, Forbidden
from crm_api.core.permissions import Principal
from crm_api.core.rules import RuleTable, conflict, holds, status_in
from crm_api.customers import policy as customer_policy

if TYPE_CHECKING:  # the model imports this module for its statuses
    from crm_api.models.ticket import ServiceTicket


class TicketStatus(StrEnum):
    NEW = "new"  # 新创建
    ASSIGNED = "assigned"
    HANDLED = "handled"
    ARCHIVED = "archived"  # 已归档: final


class TicketChannel(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    WECHAT = "wechat"
    WEB = "web"
    APP = "app"


class TicketPriority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class TicketAction(StrEnum):
    ASSIGN = "assign"
    HANDLE = "handle"
    FEEDBACK = "feedback"
    LINK_ARTICLE = "link_article"


def _is_assignee(ticket: "ServiceTicket", actor: Principal) -> DomainError | None:
    if not actor.can("tickets:handle") or actor.user_id != ticket.assignee_id:
        return Forbidden("Only the assignee handles the ticket", code="service_ticket.not_assignee")
    return None


def _is_participant(ticket: "ServiceTicket", actor: Principal) -> DomainError | None:
    if not actor.can("tickets:handle") or actor.user_id not in (ticket.created_by_id, ticket.assignee_id):
        return Forbidden("Only the ticket's creator or assignee gives feedback", code="service_ticket.not_participant")
    return None


# The state is checked before the caller: a ticket that cannot move answers 409 to everyone.
RULES: RuleTable["ServiceTicket", TicketAction] = RuleTable(
    {
        # A supervisor may re-assign an assigned ticket.
        TicketAction.ASSIGN: (
            status_in(
                (TicketStatus.NEW, TicketStatus.ASSIGNED),
                conflict("service_ticket.not_assignable", "A {status} ticket cannot be assigned"),
            ),
            holds("tickets:assign"),
        ),
        TicketAction.HANDLE: (
            status_in(
                (TicketStatus.ASSIGNED,),
                conflict("service_ticket.not_assigned", "Only an assigned ticket can be handled, this one is {status}"),
            ),
            _is_assignee,
        ),
        TicketAction.FEEDBACK: (
            status_in(
                (TicketStatus.HANDLED,),
                conflict("service_ticket.not_handled", "Feedback needs a handled ticket, this one is {status}"),
            ),
            _is_participant,
        ),
        TicketAction.LINK_ARTICLE: (holds("tickets:handle"), holds("kb:read")),
    }
)


def visible(principal: Principal, permission: str) -> ColumnElement[bool]:
    """Visible when its customer is (the repository joins the customer), or to its assignee and creator."""
    from crm_api.models.ticket import ServiceTicket

    involved: ColumnElement[bool] = false()
    if principal.user_id is not None:
        involved = or_(ServiceTicket.assignee_id == principal.user_id, ServiceTicket.created_by_id == principal.user_id)
    return or_(customer_policy.visible(principal, permission), involved)


def is_breached(ticket: "ServiceTicket", now: datetime) -> bool:
    """The SLA rule: a due time passed before the ticket was first handled (response) or archived (resolution).
    Python twin of `breached_clause`."""
    response = ticket.response_due_at is not None and (ticket.first_handled_at or now) > ticket.response_due_at
    resolve = ticket.resolve_due_at is not None and (ticket.archived_at or now) > ticket.resolve_due_at
    return response or resolve


def breached_clause(now: datetime) -> ColumnElement[bool]:
    """SQL twin of `is_breached` (NULL when the ticket has no due times)."""
    from crm_api.models.ticket import ServiceTicket

    at_now = literal(now, ServiceTicket.response_due_at.type)
    return or_(
        func.coalesce(ServiceTicket.first_handled_at, at_now) > ServiceTicket.response_due_at,
        func.coalesce(ServiceTicket.archived_at, at_now) > ServiceTicket.resolve_due_at,
    )
