from typing import Annotated

from fastapi import Depends, status

from crm_api.core.auth import require
from crm_api.core.db import SessionDep
from crm_api.core.permissions import Principal
from crm_api.core.responses import raises
from crm_api.core.routing import DomainRouter
from crm_api.core.schemas import Id
from crm_api.roles import service
from crm_api.roles.schemas import PermissionRead, RoleCreate, RoleRead, RoleUpdate

router = DomainRouter(tags=["roles"])

RolesRead = Annotated[Principal, Depends(require("roles:read"))]
RolesWrite = Annotated[Principal, Depends(require("roles:write"))]


@router.get("/roles", response_model=list[RoleRead], summary="List roles with their permissions")
async def list_roles(_: RolesRead, session: SessionDep) -> list[RoleRead]:
    return [RoleRead.model_validate(role) for role in await service.list_roles(session)]


@router.get("/permissions", response_model=list[PermissionRead], summary="The permission catalogue")
async def list_permissions(_: RolesRead) -> list[PermissionRead]:
    return service.list_permissions()


@router.post(
    "/roles",
    response_model=RoleRead,
    status_code=status.HTTP_201_CREATED,
    summary="Create a custom role",
)
@raises("role.code_taken")
async def create_role(body: RoleCreate, principal: RolesWrite, session: SessionDep) -> RoleRead:
    return RoleRead.model_validate(await service.create_role(session, principal, body))


@router.get("/roles/{role_id}", response_model=RoleRead, summary="Get a role")
async def get_role(role_id: Id, _: RolesRead, session: SessionDep) -> RoleRead:
    return RoleRead.model_validate(await service.get_role(session, role_id))


@router.patch(
    "/roles/{role_id}",
    response_model=RoleRead,
    summary="Change a custom role",
)
@raises("role.builtin")
async def update_role(role_id: Id, body: RoleUpdate, principal: RolesWrite, session: SessionDep) -> RoleRead:
    return RoleRead.model_validate(await service.update_role(session, principal, role_id, body))
