"""The customer 360: one call, a fixed number of statements however many records the customer has."""

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.permissions import Principal
from crm_api.customers.repository import ContactRepository, CustomerRepository, InteractionRepository
from crm_api.customers.schemas import ContactRead, CustomerOverview, InteractionRead, OrdersSummary, RelatedRecord
from crm_api.customers.service import CONTACTS, INTERACTION_ORDER, get_customer, to_read
from crm_api.models.customer import Customer
from crm_api.opportunities.repository import OpportunityRepository
from crm_api.tickets.repository import TicketRepository

LATEST_INTERACTIONS = 10

# A section loads one part of the overview with one or two statements and returns its fields.
# Another domain joins the overview by adding its section here and its field to CustomerOverview.
OverviewSection = Callable[[AsyncSession, Principal, Customer], Awaitable[dict[str, Any]]]


async def _contacts(session: AsyncSession, _: Principal, customer: Customer) -> dict[str, Any]:
    statement = ContactRepository(session).of_customer(customer.id).order_by(*CONTACTS.order.keys)
    return {"contacts": [ContactRead.model_validate(c) for c in await session.scalars(statement)]}


async def _latest_interactions(session: AsyncSession, _: Principal, customer: Customer) -> dict[str, Any]:
    newest_first = [key.desc() for key in INTERACTION_ORDER.keys]
    statement = InteractionRepository(session).of_customer(customer.id).order_by(*newest_first).limit(LATEST_INTERACTIONS)
    return {"latest_interactions": [InteractionRead.model_validate(i) for i in await session.scalars(statement)]}


async def _orders(session: AsyncSession, _: Principal, customer: Customer) -> dict[str, Any]:
    count, total, last_order_date = await CustomerRepository(session).orders_summary(customer.id)
    return {"orders": OrdersSummary(count=count, total=total, last_order_date=last_order_date)}


async def _open_opportunities(session: AsyncSession, principal: Principal, customer: Customer) -> dict[str, Any]:
    if not principal.can("opportunities:read"):
        return {"open_opportunities": []}
    opportunities = await OpportunityRepository(session).open_for_customer(customer.id)
    return {"open_opportunities": [RelatedRecord.model_validate(o) for o in opportunities]}


async def _open_tickets(session: AsyncSession, principal: Principal, customer: Customer) -> dict[str, Any]:
    if not principal.can("tickets:read"):
        return {"open_tickets": []}
    tickets = await TicketRepository(session).open_for_customer(customer.id)
    return {"open_tickets": [RelatedRecord.model_validate(t) for t in tickets]}


SECTIONS: list[OverviewSection] = [_contacts, _latest_interactions, _orders, _open_opportunities, _open_tickets]


async def customer_overview(session: AsyncSession, principal: Principal, customer_id: int) -> CustomerOverview:
    customer = await get_customer(session, principal, customer_id)
    fields: dict[str, Any] = {}
    for section in SECTIONS:
        fields |= await section(session, principal, customer)
    profile = to_read(customer)
    return CustomerOverview(profile=profile, churn_status=customer.status, tags=profile.tags, **fields)
