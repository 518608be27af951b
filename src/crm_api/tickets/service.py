"""Service tickets: create (with SLA and routing), assign → handle → feedback, and their history."""

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core import audit
from crm_api.core.clock import clock, start_of_local_day
from crm_api.core.codes import next_code
from crm_api.core.config import Settings
from crm_api.core.errors import Conflict, InvalidInput, NotFound
from crm_api.core.outbox import EventType, RecordEvents
from crm_api.core.pagination import Page, PageParams
from crm_api.core.permissions import Principal
from crm_api.core.query import PrefixedParams
from crm_api.core.transitions import transition
from crm_api.custom_fields import service as custom_fields
from crm_api.custom_fields.policy import CustomFieldEntity
from crm_api.customers import service as customers
from crm_api.dictionary.service import ensure_value
from crm_api.kb.service import get_article
from crm_api.models.identity import User
from crm_api.models.ticket import ServiceTicket, TicketArticle, TicketAssignment, TicketFeedback, TicketHandling
from crm_api.notifications import service as notifications
from crm_api.notifications.policy import Link, NotificationType
from crm_api.tickets.policy import RULES, TicketAction, TicketStatus, is_breached
from crm_api.tickets.repository import TicketRepository
from crm_api.tickets.schemas import (
    AssignTicket,
    HandleTicket,
    LinkedArticle,
    TicketAssignmentRead,
    TicketCreate,
    TicketDetail,
    TicketFeedbackCreate,
    TicketFeedbackRead,
    TicketFilters,
    TicketHandlingRead,
    TicketRead,
)

CODE_SERIES = "FW"
# Satisfaction from this value up closes the ticket; below it the assignee handles it again.
SATISFIED = 3


# Tickets are never deleted; each move of one is its change.
EVENTS = RecordEvents("ticket", TicketRead, "A service ticket", entity_type="service_ticket", changes=("created", "updated"))
ARCHIVED = EventType("ticket.archived", "A service ticket was archived after satisfied feedback", TicketRead)


def to_read(ticket: ServiceTicket, principal: Principal) -> TicketRead:
    fields = {name: getattr(ticket, name) for name in TicketRead.model_fields if name not in {"breached", "allowed_actions"}}
    return TicketRead(
        **fields, breached=is_breached(ticket, clock.now()), allowed_actions=RULES.allowed_actions(ticket, principal)
    )


async def list_tickets(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    params: PageParams,
    filters: TicketFilters,
    custom: PrefixedParams = (),
) -> Page[TicketRead]:
    first, last = filters.created_from, filters.created_to
    if first and last and last < first:
        raise InvalidInput("created_to", "created_to is before created_from", code="service_ticket.bad_date_range")
    repo = TicketRepository(session)
    statement = repo.filtered(
        repo.scoped(principal, "tickets:read"),
        filters,
        now=clock.now(),
        created_from=start_of_local_day(first, settings.time_zone) if first else None,
        created_before=start_of_local_day(last + timedelta(days=1), settings.time_zone) if last else None,
    ).where(*await custom_fields.filter_conditions(session, CustomFieldEntity.TICKET, custom))
    return (await repo.page(statement, params)).to_page(lambda t: to_read(t, principal))


async def _get(session: AsyncSession, principal: Principal, ticket_id: int, permission: str) -> ServiceTicket:
    repo = TicketRepository(session)
    ticket = await session.scalar(repo.with_history(repo.scoped(principal, permission).where(ServiceTicket.id == ticket_id)))
    if ticket is None:
        raise NotFound("Service ticket", ticket_id)
    return ticket


async def is_visible(session: AsyncSession, principal: Principal, ticket_id: int) -> bool:
    """Whether the ticket exists, its customer is live, and it is within the principal's `tickets:read` scope."""
    return await TicketRepository(session).get_scoped(ticket_id, principal, "tickets:read") is not None


async def get_ticket(
    session: AsyncSession, principal: Principal, ticket_id: int, *, permission: str = "tickets:read"
) -> TicketDetail:
    ticket = await _get(session, principal, ticket_id, permission)
    articles = await TicketRepository(session).articles(ticket.id)
    return TicketDetail(
        **to_read(ticket, principal).model_dump(),
        assignments=[TicketAssignmentRead.model_validate(a) for a in ticket.assignments],
        handlings=[TicketHandlingRead.model_validate(h) for h in ticket.handlings],
        feedbacks=[TicketFeedbackRead.model_validate(f) for f in ticket.feedbacks],
        articles=[LinkedArticle.model_validate(a) for a in articles],
    )


async def _reload(session: AsyncSession, principal: Principal, ticket: ServiceTicket) -> TicketDetail:
    ticket_id = ticket.id
    await session.flush()  # history rows were added: write them, then load the collections again
    session.expire(ticket)
    return await get_ticket(session, principal, ticket_id, permission="tickets:read")


async def _ensure_active_assignee(session: AsyncSession, user_id: int) -> None:
    user = await session.get(User, user_id)
    if user is None or not user.active:
        raise InvalidInput("assignee_id", f"User {user_id} is not an active user", code="service_ticket.inactive_assignee")


async def create_ticket(session: AsyncSession, principal: Principal, data: TicketCreate) -> TicketDetail:
    await ensure_value(session, "service_type", data.service_type, field="service_type")
    customer = await customers.visible_customer(session, principal, data.customer_id, "tickets:create")
    if customer is None:
        raise InvalidInput("customer_id", f"Customer {data.customer_id} not found", code="service_ticket.unknown_customer")
    repo = TicketRepository(session)
    now = clock.now()
    ticket = ServiceTicket(
        code=await next_code(session, CODE_SERIES),
        **data.model_dump(exclude={"custom_fields"}),
        custom_fields=await custom_fields.validate_values(session, CustomFieldEntity.TICKET, data.custom_fields),
        status=TicketStatus.NEW,
        created_by_id=principal.user_id,
        created_at=now,
        updated_at=now,
    )
    sla = await repo.sla_policy(data.service_type, data.priority)
    if sla is not None:
        ticket.response_due_at = now + timedelta(minutes=sla.first_response_minutes)
        ticket.resolve_due_at = now + timedelta(minutes=sla.resolution_minutes)
    rule = await repo.matching_rule(customer_level=customer.level, service_type=data.service_type)
    if rule is not None:
        ticket.status, ticket.assignee_id, ticket.assigned_at = TicketStatus.ASSIGNED, rule.assignee_id, now
        ticket.routing_rule_id = rule.id
    session.add(ticket)
    await audit.record_change(session, actor=principal, entity_type="service_ticket", entity=ticket, action="create", before=None)
    await EVENTS.publish(session, "created", ticket.id, to_read(ticket, principal))
    if rule is not None:
        session.add(TicketAssignment(ticket_id=ticket.id, assignee_id=rule.assignee_id, routing_rule_id=rule.id, assigned_at=now))
        await _notify_assignee(session, ticket)
    return await _reload(session, principal, ticket)


async def _notify_assignee(session: AsyncSession, ticket: ServiceTicket) -> None:
    await notifications.notify(
        session,
        [ticket.assignee_id],
        NotificationType.ASSIGNMENT,
        f"Service ticket {ticket.code} assigned to you",
        ticket.summary,
        Link("service_ticket", ticket.id),
    )


async def _move(
    session: AsyncSession, principal: Principal, ticket: ServiceTicket, action: str, changes: dict[str, Any]
) -> ServiceTicket:
    """Compare-and-set on the version read: of racing requests only the first moves the ticket."""
    moved = await transition(session, ticket, actor=principal, entity_type="service_ticket", action=action, changes=changes)
    await EVENTS.publish(session, "updated", moved.id, to_read(moved, principal))
    return moved


async def assign(session: AsyncSession, principal: Principal, ticket_id: int, data: AssignTicket) -> TicketDetail:
    ticket = await _get(session, principal, ticket_id, "tickets:assign")
    RULES.enforce(TicketAction.ASSIGN, ticket, principal)
    await _ensure_active_assignee(session, data.assignee_id)
    now = clock.now()
    changes = {"status": TicketStatus.ASSIGNED, "assignee_id": data.assignee_id, "assigned_at": now}
    await _move(session, principal, ticket, "assign", changes)
    session.add(
        TicketAssignment(ticket_id=ticket.id, assignee_id=data.assignee_id, assigned_by_id=principal.user_id, assigned_at=now)
    )
    await _notify_assignee(session, ticket)
    return await _reload(session, principal, ticket)


async def handle(session: AsyncSession, principal: Principal, ticket_id: int, data: HandleTicket) -> TicketDetail:
    ticket = await _get(session, principal, ticket_id, "tickets:handle")
    RULES.enforce(TicketAction.HANDLE, ticket, principal)
    assert principal.user_id is not None  # the assignee is a user
    now = clock.now()
    changes = {"status": TicketStatus.HANDLED, "first_handled_at": ticket.first_handled_at or now}
    await _move(session, principal, ticket, "handle", changes)
    session.add(TicketHandling(ticket_id=ticket.id, handler_id=principal.user_id, method=data.method, handled_at=now))
    return await _reload(session, principal, ticket)


async def give_feedback(session: AsyncSession, principal: Principal, ticket_id: int, data: TicketFeedbackCreate) -> TicketDetail:
    """Satisfied: archived, and `ticket.archived` goes out; otherwise back to the same assignee."""
    ticket = await _get(session, principal, ticket_id, "tickets:handle")
    RULES.enforce(TicketAction.FEEDBACK, ticket, principal)
    assert principal.user_id is not None  # creator or assignee
    now = clock.now()
    if data.satisfaction >= SATISFIED:
        ticket = await _move(session, principal, ticket, "archive", {"status": TicketStatus.ARCHIVED, "archived_at": now})
        await ARCHIVED.publish(session, entity_type="service_ticket", entity_id=ticket.id, payload=to_read(ticket, principal))
    else:
        ticket = await _move(session, principal, ticket, "reopen", {"status": TicketStatus.ASSIGNED})
    session.add(
        TicketFeedback(
            ticket_id=ticket.id, author_id=principal.user_id, result=data.result, satisfaction=data.satisfaction, created_at=now
        )
    )
    return await _reload(session, principal, ticket)


async def link_article(session: AsyncSession, principal: Principal, ticket_id: int, article_id: int) -> TicketDetail:
    ticket = await _get(session, principal, ticket_id, "tickets:handle")
    RULES.enforce(TicketAction.LINK_ARTICLE, ticket, principal)
    article = await get_article(session, article_id)
    repo = TicketRepository(session)
    if await repo.is_linked(ticket.id, article.id):
        raise Conflict("The article is already linked to this ticket", code="service_ticket.article_already_linked")
    session.add(TicketArticle(ticket_id=ticket.id, article_id=article.id, linked_by_id=principal.user_id, linked_at=clock.now()))
    await audit.record_follow_up(
        session,
        actor=principal,
        entity_type="service_ticket",
        entity=ticket,
        action=TicketAction.LINK_ARTICLE,
        made_type="article",
        made=article,
    )
    return await _reload(session, principal, ticket)
