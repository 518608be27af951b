from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from crm_api.contracts import service
from crm_api.contracts.policy import ContractAction, ContractStatus
from crm_api.contracts.schemas import ContractCreate, ContractRead, ContractUpdate, TerminateBody
from crm_api.core.auth import require
from crm_api.core.db import SessionDep, SnapshotRoute
from crm_api.core.errors import error_responses
from crm_api.core.http import ETag, IfMatch
from crm_api.core.pagination import Page, PageDep
from crm_api.core.permissions import Principal
from crm_api.core.schemas import Id

# Reads load a contract with its approval summary: several statements, one snapshot.
router = APIRouter(tags=["contracts"], route_class=SnapshotRoute)

ContractsRead = Annotated[Principal, Depends(require("contracts:read"))]
ContractsWrite = Annotated[Principal, Depends(require("contracts:write"))]
TRANSITION_ERRORS = error_responses(401, 403, 404, 409, 422)


@router.get(
    "/contracts",
    response_model=Page[ContractRead],
    summary="List contracts in the caller's scope",
    responses=error_responses(401, 403, 422),
)
async def list_contracts(
    principal: ContractsRead,
    session: SessionDep,
    page: PageDep,
    status_: Annotated[ContractStatus | None, Query(alias="status")] = None,
    customer_id: Id | None = None,
) -> Page[ContractRead]:
    return await service.list_contracts(session, principal, page, status=status_, customer_id=customer_id)


@router.post(
    "/contracts",
    response_model=ContractRead,
    status_code=status.HTTP_201_CREATED,
    summary="Draft a contract from an accepted quote of the caller's, or for a customer the caller owns",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def create_contract(body: ContractCreate, principal: ContractsWrite, session: SessionDep) -> ContractRead:
    return await service.read(session, await service.create(session, principal, body), principal)


@router.get(
    "/contracts/{contract_id}",
    response_model=ContractRead,
    summary="Get a contract with its approval and what the caller may do",
    responses=error_responses(401, 403, 404),
)
async def get_contract(contract_id: Id, principal: ContractsRead, session: SessionDep, etag: ETag) -> ContractRead:
    return etag(await service.read(session, await service.get(session, principal, contract_id), principal))


@router.patch(
    "/contracts/{contract_id}",
    response_model=ContractRead,
    summary="Change a draft contract (its owner)",
    responses=error_responses(401, 403, 404, 409, 412, 422),
)
async def update_contract(
    contract_id: Id, body: ContractUpdate, principal: ContractsWrite, session: SessionDep, if_match: IfMatch = None
) -> ContractRead:
    contract = await service.update(session, principal, contract_id, body, if_match=if_match)
    return await service.read(session, contract, principal)


@router.post(
    "/contracts/{contract_id}/submit",
    response_model=ContractRead,
    summary="Submit a draft contract for approval (always needed): active once approved",
    responses=TRANSITION_ERRORS,
)
async def submit_contract(contract_id: Id, principal: ContractsWrite, session: SessionDep) -> ContractRead:
    return await service.read(session, await service.submit(session, principal, contract_id), principal)


@router.post(
    "/contracts/{contract_id}/complete",
    response_model=ContractRead,
    summary="Close an active contract as completed (its owner)",
    responses=TRANSITION_ERRORS,
)
async def complete_contract(contract_id: Id, principal: ContractsWrite, session: SessionDep) -> ContractRead:
    contract = await service.close(session, principal, contract_id, ContractAction.COMPLETE)
    return await service.read(session, contract, principal)


@router.post(
    "/contracts/{contract_id}/terminate",
    response_model=ContractRead,
    summary="Terminate an active contract, with the reason (its owner)",
    responses=TRANSITION_ERRORS,
)
async def terminate_contract(
    contract_id: Id, body: TerminateBody, principal: ContractsWrite, session: SessionDep
) -> ContractRead:
    contract = await service.close(session, principal, contract_id, ContractAction.TERMINATE, body.reason)
    return await service.read(session, contract, principal)
