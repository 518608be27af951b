from typing import Annotated

from fastapi import Depends, Query, status

from crm_api.contracts import service
from crm_api.contracts.policy import ContractAction, ContractStatus
from crm_api.contracts.schemas import (
    ContractCreate,
    ContractRead,
    ContractUpdate,
    InstallmentCreate,
    InstallmentRead,
    InvoiceCreate,
    InvoiceRead,
    ReceiptCreate,
    ReceiptRead,
    TerminateBody,
)
from crm_api.core.auth import require
from crm_api.core.config import SettingsDep
from crm_api.core.db import SessionDep, SnapshotRoute
from crm_api.core.http import ETag, IfMatch
from crm_api.core.pagination import Page, PageParams, listing
from crm_api.core.permissions import Principal
from crm_api.core.responses import raises
from crm_api.core.routing import DomainRouter
from crm_api.core.schemas import Id

# Reads load a contract with its approval summary: several statements, one snapshot.
router = DomainRouter(tags=["contracts"], route_class=SnapshotRoute)
# The reads that are one statement (the list, a contract by id, its payment plan): no transaction.
single_statement_router = DomainRouter(tags=["contracts"])

ContractsRead = Annotated[Principal, Depends(require("contracts:read"))]
ContractsWrite = Annotated[Principal, Depends(require("contracts:write"))]


ContractPage = Annotated[
    PageParams, listing("ContractSort", "number", "customer_name", "amount", "start_date", "end_date", "created_at", "updated_at")
]


@single_statement_router.get(
    "/contracts",
    response_model=Page[ContractRead],
    summary="List contracts in the caller's scope",
)
async def list_contracts(
    principal: ContractsRead,
    session: SessionDep,
    page: ContractPage,
    status_: Annotated[ContractStatus | None, Query(alias="status")] = None,
    customer_id: Id | None = None,
) -> Page[ContractRead]:
    return await service.list_contracts(session, principal, page, status=status_, customer_id=customer_id)


@router.post(
    "/contracts",
    response_model=ContractRead,
    status_code=status.HTTP_201_CREATED,
    summary="Draft a contract from an accepted quote of the caller's, or for a customer the caller owns",
)
@raises(
    "customer.not_found",
    "contract.not_customer_owner",
    "opportunity.not_found",
    "quote.no_customer",
    "quote.not_accepted",
    "quote.not_found",
    "quote.not_owner",
)
async def create_contract(body: ContractCreate, principal: ContractsWrite, session: SessionDep) -> ContractRead:
    return await service.read(session, await service.create(session, principal, body), principal)


@single_statement_router.get(
    "/contracts/{contract_id}",
    response_model=ContractRead,
    summary="Get a contract with its approval and what the caller may do",
)
async def get_contract(contract_id: Id, principal: ContractsRead, session: SessionDep, etag: ETag) -> ContractRead:
    return etag(await service.read_by_id(session, principal, contract_id))


@router.patch(
    "/contracts/{contract_id}",
    response_model=ContractRead,
    summary="Change a draft contract (its owner)",
)
@raises("contract.not_draft", "contract.not_owner", "contract.period_reversed")
async def update_contract(
    contract_id: Id, body: ContractUpdate, principal: ContractsWrite, session: SessionDep, if_match: IfMatch = None
) -> ContractRead:
    contract = await service.update(session, principal, contract_id, body, if_match=if_match)
    return await service.read(session, contract, principal)


@router.post(
    "/contracts/{contract_id}/submit",
    response_model=ContractRead,
    summary="Submit a draft contract for approval (always needed): active once approved",
)
@raises(
    "approval.no_flow",
    "approval.no_requester",
    "approval.unknown_subject",
    "contract.changed",
    "contract.not_draft",
    "contract.not_owner",
)
async def submit_contract(contract_id: Id, principal: ContractsWrite, session: SessionDep) -> ContractRead:
    return await service.read(session, await service.submit(session, principal, contract_id), principal)


@router.post(
    "/contracts/{contract_id}/complete",
    response_model=ContractRead,
    summary="Close an active contract as completed (its owner)",
)
@raises("contract.changed", "contract.not_active", "contract.not_draft", "contract.not_owner")
async def complete_contract(contract_id: Id, principal: ContractsWrite, session: SessionDep) -> ContractRead:
    contract = await service.close(session, principal, contract_id, ContractAction.COMPLETE)
    return await service.read(session, contract, principal)


@router.post(
    "/contracts/{contract_id}/terminate",
    response_model=ContractRead,
    summary="Terminate an active contract, with the reason (its owner)",
)
@raises("contract.changed", "contract.not_active", "contract.not_draft", "contract.not_owner")
async def terminate_contract(
    contract_id: Id, body: TerminateBody, principal: ContractsWrite, session: SessionDep
) -> ContractRead:
    contract = await service.close(session, principal, contract_id, ContractAction.TERMINATE, body.reason)
    return await service.read(session, contract, principal)


@single_statement_router.get(
    "/contracts/{contract_id}/installments",
    response_model=list[InstallmentRead],
    summary="The contract's payment plan, by due date, each with what was collected and its status",
)
async def list_installments(
    contract_id: Id, principal: ContractsRead, session: SessionDep, settings: SettingsDep
) -> list[InstallmentRead]:
    return await service.list_installments(session, principal, settings, contract_id)


@router.post(
    "/contracts/{contract_id}/installments",
    response_model=InstallmentRead,
    status_code=status.HTTP_201_CREATED,
    summary="Add an installment to an active contract's payment plan (its owner); the plan may not exceed the amount",
)
@raises("contract.not_active", "contract.not_draft", "contract.not_owner", "contract.plan_over_amount")
async def add_installment(
    contract_id: Id, body: InstallmentCreate, principal: ContractsWrite, session: SessionDep, settings: SettingsDep
) -> InstallmentRead:
    return await service.add_installment(session, principal, settings, contract_id, body)


@router.post(
    "/contracts/{contract_id}/installments/{installment_id}/receipts",
    response_model=ReceiptRead,
    status_code=status.HTTP_201_CREATED,
    summary="Record money received against an installment (its owner); collecting more than is outstanding is 409",
)
@raises("contract.not_active", "contract.not_owner", "installment.over_collected")
async def record_receipt(
    contract_id: Id, installment_id: Id, body: ReceiptCreate, principal: ContractsWrite, session: SessionDep
) -> ReceiptRead:
    return await service.record_receipt(session, principal, contract_id, installment_id, body)


@router.get(
    "/contracts/{contract_id}/invoices",
    response_model=list[InvoiceRead],
    summary="The contract's invoices",
)
async def list_invoices(contract_id: Id, principal: ContractsRead, session: SessionDep) -> list[InvoiceRead]:
    return await service.list_invoices(session, principal, contract_id)


@router.post(
    "/contracts/{contract_id}/invoices",
    response_model=InvoiceRead,
    status_code=status.HTTP_201_CREATED,
    summary="Record an invoice of an active contract (its owner); invoices may not total more than the amount",
)
@raises("contract.not_active", "contract.not_draft", "contract.not_owner", "contract.over_invoiced")
async def add_invoice(contract_id: Id, body: InvoiceCreate, principal: ContractsWrite, session: SessionDep) -> InvoiceRead:
    return await service.add_invoice(session, principal, contract_id, body)
