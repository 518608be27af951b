from typing import Annotated

from fastapi import Depends, status

from crm_api.api_keys import service
from crm_api.api_keys.schemas import ApiKeyCreate, ApiKeyIssued, ApiKeyRead
from crm_api.core.auth import require
from crm_api.core.db import SessionDep
from crm_api.core.http import no_store
from crm_api.core.permissions import Principal
from crm_api.core.responses import raises
from crm_api.core.routing import DomainRouter
from crm_api.core.schemas import Id

router = DomainRouter(prefix="/api-keys", tags=["api keys"])

ApiKeysWrite = Annotated[Principal, Depends(require("api_keys:write"))]


@router.post(
    "",
    response_model=ApiKeyIssued,
    status_code=status.HTTP_201_CREATED,
    summary="Issue an API key (the secret is in this response only)",
    dependencies=[Depends(no_store)],
)
@raises("api_key.unknown_role")
async def issue_api_key(body: ApiKeyCreate, principal: ApiKeysWrite, session: SessionDep) -> ApiKeyIssued:
    return await service.issue(session, principal, body)


@router.get("", response_model=list[ApiKeyRead], summary="List API keys (never their secrets)")
async def list_api_keys(_: ApiKeysWrite, session: SessionDep) -> list[ApiKeyRead]:
    return await service.list_keys(session)


@router.get("/{key_id}", response_model=ApiKeyRead, summary="Get an API key (never its secret)")
@raises("api_key.not_found")
async def get_api_key(key_id: Id, _: ApiKeysWrite, session: SessionDep) -> ApiKeyRead:
    return await service.get_key(session, key_id)


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke an API key")
@raises("api_key.not_found")
async def revoke_api_key(key_id: Id, principal: ApiKeysWrite, session: SessionDep) -> None:
    await service.revoke(session, principal, key_id)
