from typing import Annotated

from fastapi import Depends, Query, status

from crm_api.auth import totp
from crm_api.core.auth import require
from crm_api.core.db import SessionDep
from crm_api.core.http import Rendered
from crm_api.core.pagination import Page, PageParams, listing
from crm_api.core.permissions import Principal
from crm_api.core.responses import raises
from crm_api.core.routing import DomainRouter
from crm_api.core.schemas import Id
from crm_api.users import service
from crm_api.users.schemas import TeamCreate, TeamDetail, TeamRead, TeamUpdate, UserCreate, UserRead, UserUpdate

router = DomainRouter(tags=["users"])

UsersRead = Annotated[Principal, Depends(require("users:read"))]
UsersWrite = Annotated[Principal, Depends(require("users:write"))]


UserPage = Annotated[PageParams, listing("UserSort", "username", "full_name", "created_at", "updated_at")]


@router.get("/users", response_model=Page[UserRead], summary="List users")
async def list_users(
    principal: UsersRead,
    session: SessionDep,
    page: UserPage,
    q: Annotated[str | None, Query(max_length=100, description="Username or name contains")] = None,
    role: Annotated[str | None, Query(max_length=50)] = None,
    team_id: Id | None = None,
    active: bool | None = None,
) -> Rendered:
    return Rendered(await service.list_users(session, principal, page, q=q, role=role, team_id=team_id, active=active))


@router.post(
    "/users",
    response_model=UserRead,
    status_code=status.HTTP_201_CREATED,
    summary="Create a user",
)
@raises("user.api_key_role", "user.unknown_role", "user.unknown_team", "user.username_taken")
async def create_user(body: UserCreate, principal: UsersWrite, session: SessionDep) -> UserRead:
    return service.to_read(await service.create_user(session, principal, body))


@router.get("/users/{user_id}", response_model=UserRead, summary="Get a user")
async def get_user(user_id: Id, principal: UsersRead, session: SessionDep) -> UserRead:
    return service.to_read(await service.get_user(session, principal, user_id))


@router.patch(
    "/users/{user_id}",
    response_model=UserRead,
    summary="Change a user's name, email, password, roles or team",
)
@raises("user.api_key_role", "user.unknown_role", "user.unknown_team")
async def update_user(user_id: Id, body: UserUpdate, principal: UsersWrite, session: SessionDep) -> UserRead:
    return service.to_read(await service.update_user(session, principal, user_id, body))


@router.post(
    "/users/{user_id}/disable",
    response_model=UserRead,
    summary="Disable a user: sign-in refused, tokens revoked at once",
)
@raises("user.cannot_disable_self")
async def disable_user(user_id: Id, principal: UsersWrite, session: SessionDep) -> UserRead:
    return service.to_read(await service.set_user_active(session, principal, user_id, active=False))


@router.post(
    "/users/{user_id}/enable",
    response_model=UserRead,
    summary="Enable a disabled user",
)
@raises("user.cannot_disable_self")
async def enable_user(user_id: Id, principal: UsersWrite, session: SessionDep) -> UserRead:
    return service.to_read(await service.set_user_active(session, principal, user_id, active=True))


TeamPage = Annotated[PageParams, listing("TeamSort", "name", "created_at", "updated_at")]


@router.get("/teams", response_model=Page[TeamRead], summary="List teams")
async def list_teams(_: UsersRead, session: SessionDep, page: TeamPage) -> Page[TeamRead]:
    return await service.list_teams(session, page)


@router.post(
    "/teams",
    response_model=TeamRead,
    status_code=status.HTTP_201_CREATED,
    summary="Create a team",
)
@raises("team.name_taken")
async def create_team(body: TeamCreate, principal: UsersWrite, session: SessionDep) -> TeamRead:
    return TeamRead.model_validate(await service.create_team(session, principal, body))


@router.get("/teams/{team_id}", response_model=TeamDetail, summary="Get a team with its members")
async def get_team(team_id: Id, _: UsersRead, session: SessionDep) -> TeamDetail:
    return await service.get_team(session, team_id)


@router.patch(
    "/teams/{team_id}",
    response_model=TeamDetail,
    summary="Rename or describe a team",
)
@raises("team.name_taken")
async def update_team(team_id: Id, body: TeamUpdate, principal: UsersWrite, session: SessionDep) -> TeamDetail:
    return await service.update_team(session, principal, team_id, body)


@router.post(
    "/users/{user_id}/totp/reset",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a user's TOTP second factor (a lost phone)",
)
@raises("auth.totp_not_enabled")
async def reset_totp(user_id: Id, principal: UsersWrite, session: SessionDep) -> None:
    await totp.reset(session, principal, user_id=user_id)
