"""The customer 360: the customer and every section of its overview in one statement."""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.errors import NotFound
from crm_api.core.permissions import PerScopeShape, Principal
from crm_api.core.types import listed_records
from crm_api.customers.repository import (
    CONTACTS_OF_CUSTOMER,
    ORDERS_SUMMARY,
    CustomerRepository,
    latest_interactions,
)
from crm_api.customers.schemas import ContactRead, CustomerRead, InteractionRead, OrdersSummary
from crm_api.opportunities import repository as opportunities
from crm_api.read.customer_360.schemas import CustomerOverview, RelatedRecord
from crm_api.tickets import repository as tickets

LATEST_INTERACTIONS = 10
READ = "customers:read"


@dataclass(frozen=True)
class OverviewSection:
    """A part of the overview: the rows a select finds for the customer (its `customer_id` parameter), read as a
    column of the customer's row (`listed_records`), and the overview's field they fill. A caller without `permission`
    gets the field filled from no rows. Another domain joins the overview with a section here and its field."""

    field: str
    rows: Select[*tuple[Any, ...]]
    fill: Callable[[list[dict[str, Any]]], Any]
    permission: str | None = None


def _each(model: Callable[[dict[str, Any]], Any]) -> Callable[[list[dict[str, Any]]], list[Any]]:
    return lambda rows: [model(row) for row in rows]


SECTIONS = (
    OverviewSection("contacts", CONTACTS_OF_CUSTOMER, _each(ContactRead.model_validate)),
    OverviewSection("latest_interactions", latest_interactions(LATEST_INTERACTIONS), _each(InteractionRead.model_validate)),
    OverviewSection("orders", ORDERS_SUMMARY, lambda rows: OrdersSummary.model_validate(rows[0])),  # an aggregate's row
    OverviewSection(
        "open_opportunities", opportunities.OPEN_FOR_CUSTOMER, _each(RelatedRecord.model_validate), "opportunities:read"
    ),
    OverviewSection("open_tickets", tickets.OPEN_FOR_CUSTOMER, _each(RelatedRecord.model_validate), "tickets:read"),
)

# The statement, per set of sections the caller may read and shape of its scope of the customers.
_OVERVIEWS: defaultdict[tuple[str, ...], PerScopeShape[Select[Any]]] = defaultdict(PerScopeShape)


def _overview_of(principal: Principal, sections: list[OverviewSection]) -> Select[Any]:
    def build() -> Select[Any]:
        columns = (listed_records(section.rows).label(section.field) for section in sections)
        return CustomerRepository.read_by_id(principal, READ).add_columns(*columns)

    return _OVERVIEWS[tuple(section.field for section in sections)].get(principal, READ, build)


async def customer_overview(session: AsyncSession, principal: Principal, customer_id: int) -> CustomerOverview:
    readable = [section for section in SECTIONS if section.permission is None or principal.can(section.permission)]
    values = await CustomerRepository(session).one_by_id(_overview_of(principal, readable), principal, customer_id)
    if values is None:
        raise NotFound("Customer", customer_id)
    # A section the caller may not read is no column: its field is filled from no rows.
    fields = {section.field: section.fill(values.pop(section.field, [])) for section in SECTIONS}
    profile = CustomerRead.model_validate(values)
    return CustomerOverview(profile=profile, churn_status=profile.status, tags=profile.tags, **fields)
