"""The customer 360: one call, a fixed number of statements however many records the customer has."""

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.permissions import Principal
from crm_api.customers import service as customers
from crm_api.customers.schemas import CustomerRead
from crm_api.opportunities.repository import OpportunityRepository
from crm_api.read.customer_360.schemas import CustomerOverview, RelatedRecord
from crm_api.tickets.repository import TicketRepository

LATEST_INTERACTIONS = 10

# A section loads one part of the overview with one or two statements and returns its fields.
# Another domain joins the overview by adding its section here and its field to CustomerOverview.
OverviewSection = Callable[[AsyncSession, Principal, CustomerRead], Awaitable[dict[str, Any]]]


async def _contacts(session: AsyncSession, _: Principal, customer: CustomerRead) -> dict[str, Any]:
    return {"contacts": await customers.contact_reads(session, customer.id)}


async def _latest_interactions(session: AsyncSession, _: Principal, customer: CustomerRead) -> dict[str, Any]:
    return {"latest_interactions": await customers.latest_interaction_reads(session, customer.id, LATEST_INTERACTIONS)}


async def _orders(session: AsyncSession, _: Principal, customer: CustomerRead) -> dict[str, Any]:
    return {"orders": await customers.orders_summary(session, customer.id)}


async def _open_opportunities(session: AsyncSession, principal: Principal, customer: CustomerRead) -> dict[str, Any]:
    if not principal.can("opportunities:read"):
        return {"open_opportunities": []}
    opportunities = await OpportunityRepository(session).open_for_customer(customer.id)
    return {"open_opportunities": [RelatedRecord.model_validate(o) for o in opportunities]}


async def _open_tickets(session: AsyncSession, principal: Principal, customer: CustomerRead) -> dict[str, Any]:
    if not principal.can("tickets:read"):
        return {"open_tickets": []}
    tickets = await TicketRepository(session).open_for_customer(customer.id)
    return {"open_tickets": [RelatedRecord.model_validate(t) for t in tickets]}


SECTIONS: list[OverviewSection] = [_contacts, _latest_interactions, _orders, _open_opportunities, _open_tickets]


async def customer_overview(session: AsyncSession, principal: Principal, customer_id: int) -> CustomerOverview:
    profile = await customers.read_customer(session, principal, customer_id)
    fields: dict[str, Any] = {}
    for section in SECTIONS:
        fields |= await section(session, principal, profile)
    return CustomerOverview(profile=profile, churn_status=profile.status, tags=profile.tags, **fields)
