from datetime import date
from typing import Annotated

from fastapi import Depends, Query, status

from crm_api.core.auth import require
from crm_api.core.config import SettingsDep
from crm_api.core.db import SessionDep
from crm_api.core.http import ETag, IfMatch
from crm_api.core.pagination import Page, PageParams, listing
from crm_api.core.permissions import Principal
from crm_api.core.responses import raises
from crm_api.core.routing import DomainRouter
from crm_api.core.schemas import Id
from crm_api.custom_fields.schemas import FILTERS_DESCRIPTION, CustomFieldFilters
from crm_api.kb.schemas import ArticleLink
from crm_api.tickets import routing, service
from crm_api.tickets.policy import TicketPriority, TicketStatus
from crm_api.tickets.schemas import (
    AssignTicket,
    HandleTicket,
    RoutingRuleCreate,
    RoutingRuleRead,
    RoutingRuleUpdate,
    SlaPolicyRead,
    SlaPolicyWrite,
    TicketCreate,
    TicketDetail,
    TicketFeedbackCreate,
    TicketFilters,
    TicketRead,
)

tickets_router = DomainRouter(prefix="/service-tickets", tags=["service tickets"])
policies_router = DomainRouter(tags=["service settings"])

TicketsRead = Annotated[Principal, Depends(require("tickets:read"))]
TicketsHandle = Annotated[Principal, Depends(require("tickets:handle"))]
SettingsWrite = Annotated[Principal, Depends(require("settings:write"))]


TicketsAssign = Annotated[Principal, Depends(require("tickets:assign"))]
TicketsCreate = Annotated[Principal, Depends(require("tickets:create"))]


def _ticket_filters(
    status: TicketStatus | None = None,
    service_type: Annotated[str | None, Query(alias="type", max_length=100, description="Service type value")] = None,
    priority: TicketPriority | None = None,
    customer_id: Id | None = None,
    assignee_id: Id | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Summary contains")] = None,
    created_from: Annotated[date | None, Query(description="Created on or after this business-calendar day")] = None,
    created_to: Annotated[date | None, Query(description="Created on or before this business-calendar day")] = None,
    breached: Annotated[bool | None, Query(description="Only tickets past (true) or within (false) their SLA")] = None,
) -> TicketFilters:
    return TicketFilters(
        status=status,
        service_type=service_type,
        priority=priority,
        customer_id=customer_id,
        assignee_id=assignee_id,
        q=q,
        created_from=created_from,
        created_to=created_to,
        breached=breached,
    )


TicketPage = Annotated[PageParams, listing("TicketSort", "code", "created_at", "updated_at")]


@tickets_router.get(
    "",
    response_model=Page[TicketRead],
    summary="List and search service tickets in your data scope",
    description=FILTERS_DESCRIPTION,
)
@raises("service_ticket.bad_date_range")
async def list_tickets(
    principal: TicketsRead,
    session: SessionDep,
    settings: SettingsDep,
    page: TicketPage,
    filters: Annotated[TicketFilters, Depends(_ticket_filters)],
    custom: CustomFieldFilters,
) -> Page[TicketRead]:
    return await service.list_tickets(session, principal, settings, page, filters, custom)


@tickets_router.post(
    "",
    response_model=TicketDetail,
    status_code=status.HTTP_201_CREATED,
    summary="Open a service ticket (routing rules may assign it at once)",
)
@raises("dictionary.unknown_value", "service_ticket.not_found", "service_ticket.unknown_customer")
async def create_ticket(body: TicketCreate, principal: TicketsCreate, session: SessionDep) -> TicketDetail:
    return await service.create_ticket(session, principal, body)


@tickets_router.get(
    "/{ticket_id}",
    response_model=TicketDetail,
    summary="Get a ticket with its assignments, handlings, feedbacks and linked articles",
)
@raises("service_ticket.not_found")
async def get_ticket(ticket_id: Id, principal: TicketsRead, session: SessionDep, etag: ETag) -> TicketDetail:
    return etag(await service.get_ticket(session, principal, ticket_id))


@tickets_router.post(
    "/{ticket_id}/assign",
    response_model=TicketDetail,
    summary="Assign (or re-assign) a new or assigned ticket to an active user (supervisor)",
)
@raises("service_ticket.changed", "service_ticket.inactive_assignee", "service_ticket.not_assignable", "service_ticket.not_found")
async def assign(ticket_id: Id, body: AssignTicket, principal: TicketsAssign, session: SessionDep) -> TicketDetail:
    return await service.assign(session, principal, ticket_id, body)


@tickets_router.post(
    "/{ticket_id}/handle",
    response_model=TicketDetail,
    summary="Record how the assignee handled the ticket",
)
@raises("service_ticket.changed", "service_ticket.not_assigned", "service_ticket.not_assignee", "service_ticket.not_found")
async def handle(ticket_id: Id, body: HandleTicket, principal: TicketsHandle, session: SessionDep) -> TicketDetail:
    return await service.handle(session, principal, ticket_id, body)


@tickets_router.post(
    "/{ticket_id}/feedback",
    response_model=TicketDetail,
    summary="Customer feedback: satisfaction 3+ archives the ticket, below 3 sends it back to the assignee",
)
@raises("service_ticket.changed", "service_ticket.not_found", "service_ticket.not_handled", "service_ticket.not_participant")
async def feedback(ticket_id: Id, body: TicketFeedbackCreate, principal: TicketsHandle, session: SessionDep) -> TicketDetail:
    return await service.give_feedback(session, principal, ticket_id, body)


@tickets_router.post(
    "/{ticket_id}/articles",
    response_model=TicketDetail,
    summary="Link a knowledge base article",
)
@raises("article.not_found", "service_ticket.article_already_linked", "service_ticket.not_found")
async def link_article(ticket_id: Id, body: ArticleLink, principal: TicketsHandle, session: SessionDep) -> TicketDetail:
    return await service.link_article(session, principal, ticket_id, body.article_id)


@policies_router.get(
    "/sla-policies",
    response_model=list[SlaPolicyRead],
    summary="SLA targets per service type and priority",
)
async def list_sla_policies(_: TicketsRead, session: SessionDep) -> list[SlaPolicyRead]:
    return await routing.list_sla_policies(session)


@policies_router.put(
    "/sla-policies",
    response_model=list[SlaPolicyRead],
    summary="Replace the SLA targets (existing tickets keep their due times)",
)
@raises("dictionary.unknown_value", "sla_policy.duplicate")
async def replace_sla_policies(body: list[SlaPolicyWrite], principal: SettingsWrite, session: SessionDep) -> list[SlaPolicyRead]:
    return await routing.replace_sla_policies(session, principal, body)


RoutingRulePage = Annotated[PageParams, listing("RoutingRuleSort", "name", "sort_order", "created_at", "updated_at")]


@policies_router.get(
    "/ticket-routing-rules",
    response_model=Page[RoutingRuleRead],
    summary="Ticket routing rules, in the order they are tried",
)
async def list_routing_rules(_: TicketsRead, session: SessionDep, page: RoutingRulePage) -> Page[RoutingRuleRead]:
    return await routing.list_routing_rules(session, page)


@policies_router.post(
    "/ticket-routing-rules",
    response_model=RoutingRuleRead,
    status_code=status.HTTP_201_CREATED,
    summary="Add a routing rule: customer level and/or type → a user",
)
@raises("dictionary.unknown_value", "routing_rule.inactive_assignee", "routing_rule.no_criteria")
async def create_routing_rule(body: RoutingRuleCreate, principal: SettingsWrite, session: SessionDep) -> RoutingRuleRead:
    return RoutingRuleRead.model_validate(await routing.create_routing_rule(session, principal, body))


@policies_router.get(
    "/ticket-routing-rules/{rule_id}",
    response_model=RoutingRuleRead,
    summary="Get a routing rule",
)
@raises("routing_rule.not_found")
async def get_routing_rule(rule_id: Id, _: TicketsRead, session: SessionDep) -> RoutingRuleRead:
    return RoutingRuleRead.model_validate(await routing.get_routing_rule(session, rule_id))


@policies_router.patch(
    "/ticket-routing-rules/{rule_id}",
    response_model=RoutingRuleRead,
    summary="Change a routing rule",
)
@raises("dictionary.unknown_value", "routing_rule.inactive_assignee", "routing_rule.no_criteria", "routing_rule.not_found")
async def update_routing_rule(
    rule_id: Id, body: RoutingRuleUpdate, principal: SettingsWrite, session: SessionDep, if_match: IfMatch = None
) -> RoutingRuleRead:
    return RoutingRuleRead.model_validate(await routing.update_routing_rule(session, principal, rule_id, body, if_match=if_match))


@policies_router.delete(
    "/ticket-routing-rules/{rule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a routing rule",
)
@raises("routing_rule.not_found")
async def delete_routing_rule(rule_id: Id, principal: SettingsWrite, session: SessionDep) -> None:
    await routing.delete_routing_rule(session, principal, rule_id)
