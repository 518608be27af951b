from pydantic import Field

from crm_api.core.schemas import OutputModel
from crm_api.customers.policy import CustomerStatus
from crm_api.customers.schemas import ContactRead, CustomerRead, InteractionRead, OrdersSummary


class RelatedRecord(OutputModel):
    """A record of another domain shown in the customer 360 (open opportunities, open tickets)."""

    id: int
    code: str
    summary: str
    status: str


class CustomerOverview(OutputModel):
    profile: CustomerRead
    contacts: list[ContactRead]
    latest_interactions: list[InteractionRead] = Field(description="The 10 most recent, newest first")
    orders: OrdersSummary
    open_opportunities: list[RelatedRecord]
    open_tickets: list[RelatedRecord]
    churn_status: CustomerStatus
    tags: list[str]
