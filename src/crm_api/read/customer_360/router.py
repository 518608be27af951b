from typing import Annotated

from fastapi import Depends

from crm_api.core.auth import require
from crm_api.core.db import SessionDep
from crm_api.core.http import Rendered
from crm_api.core.permissions import Principal
from crm_api.core.routing import DomainRouter
from crm_api.core.schemas import Id
from crm_api.read.customer_360.schemas import CustomerOverview
from crm_api.read.customer_360.service import customer_overview

# Under the customer's path, beside the customers' own routes; one statement, so a read in autocommit.
router = DomainRouter(prefix="/customers", tags=["customers"])

CustomersRead = Annotated[Principal, Depends(require("customers:read"))]


@router.get(
    "/{customer_id}/overview",
    response_model=CustomerOverview,
    summary="The customer 360: profile, contacts, latest interactions, orders, open work, churn status",
)
async def get_overview(customer_id: Id, principal: CustomersRead, session: SessionDep) -> Rendered:
    return Rendered(await customer_overview(session, principal, customer_id))
