from typing import Annotated

from fastapi import Depends, status

from crm_api.core.auth import require
from crm_api.core.db import SessionDep
from crm_api.core.pagination import Page, PageParams, listing
from crm_api.core.permissions import Principal
from crm_api.core.responses import raises
from crm_api.core.routing import DomainRouter
from crm_api.core.schemas import Id
from crm_api.customers.router import CustomersRead, CustomersWrite
from crm_api.customers.schemas import ContactRead, CustomerRead
from crm_api.privacy import service
from crm_api.privacy.schemas import (
    ConsentCreate,
    ConsentRead,
    ContactPersonalData,
    CustomerPersonalData,
    ErasureRequest,
)

router = DomainRouter(prefix="/customers", tags=["privacy"])

PrivacyErase = Annotated[Principal, Depends(require("privacy:erase"))]

CONTACT = "/{customer_id}/contacts/{contact_id}"


@router.get(
    "/{customer_id}/personal-data",
    response_model=CustomerPersonalData,
    summary="Everything stored about a customer: profile, contacts, interactions, consents, orders, history",
)
async def export_customer(customer_id: Id, principal: CustomersRead, session: SessionDep) -> CustomerPersonalData:
    return await service.export_customer(session, principal, customer_id)


@router.post(
    "/{customer_id}/erase",
    response_model=CustomerRead,
    summary="Erase a customer's personal data: anonymized in place, orders and totals kept, read-only since",
)
@raises("privacy.erased")
async def erase_customer(customer_id: Id, body: ErasureRequest, principal: PrivacyErase, session: SessionDep) -> CustomerRead:
    return CustomerRead.model_validate(await service.erase_customer(session, principal, customer_id, reason=body.reason))


@router.get(
    f"{CONTACT}/personal-data",
    response_model=ContactPersonalData,
    summary="Everything stored about a contact person: profile, consents, history",
)
async def export_contact(customer_id: Id, contact_id: Id, principal: CustomersRead, session: SessionDep) -> ContactPersonalData:
    return await service.export_contact(session, principal, customer_id, contact_id)


@router.post(
    f"{CONTACT}/erase",
    response_model=ContactRead,
    summary="Erase a contact's personal data: anonymized in place, read-only since",
)
@raises("privacy.erased")
async def erase_contact(
    customer_id: Id, contact_id: Id, body: ErasureRequest, principal: PrivacyErase, session: SessionDep
) -> ContactRead:
    contact = await service.erase_contact(session, principal, customer_id, contact_id, reason=body.reason)
    return ContactRead.model_validate(contact)


ConsentPage = Annotated[PageParams, listing("ConsentSort", "at")]


@router.get(
    f"{CONTACT}/consents",
    response_model=Page[ConsentRead],
    summary="A contact's consent log, oldest first",
)
async def list_consents(
    customer_id: Id, contact_id: Id, principal: CustomersRead, session: SessionDep, page: ConsentPage
) -> Page[ConsentRead]:
    return await service.list_consents(session, principal, customer_id, contact_id, page)


@router.post(
    f"{CONTACT}/consents",
    response_model=ConsentRead,
    status_code=status.HTTP_201_CREATED,
    summary="Record a consent given or withdrawn (append-only); updates the contact's marketing flag",
)
@raises("consent.in_future", "privacy.erased")
async def record_consent(
    customer_id: Id, contact_id: Id, body: ConsentCreate, principal: CustomersWrite, session: SessionDep
) -> ConsentRead:
    return ConsentRead.model_validate(await service.record_consent(session, principal, customer_id, contact_id, body))
