from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from crm_api.auth import service
from crm_api.auth.schemas import LoginRequest, Me, RefreshRequest, TokenPair
from crm_api.core.auth import Authenticated
from crm_api.core.config import SettingsDep
from crm_api.core.db import DatabaseDep, SessionDep
from crm_api.core.errors import error_responses

router = APIRouter(prefix="/auth", tags=["auth"])


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.post(
    "/login", response_model=TokenPair, summary="Sign in with username and password",
    responses=error_responses(401, 422, 429),
)
async def login(body: LoginRequest, request: Request, session: SessionDep, database: DatabaseDep, settings: SettingsDep) -> TokenPair:
    return await service.login(
        session, database, settings, username=body.username, password=body.password, client_ip=_client_ip(request)
    )


@router.post(
    "/token", response_model=TokenPair, summary="Sign in with an OAuth2 password form (Swagger UI's Authorize)",
    responses=error_responses(401, 422, 429),
)
async def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    session: SessionDep,
    database: DatabaseDep,
    settings: SettingsDep,
) -> TokenPair:
    return await service.login(
        session, database, settings, username=form.username, password=form.password, client_ip=_client_ip(request)
    )


@router.post(
    "/refresh", response_model=TokenPair, summary="Exchange a refresh token for a new pair (rotation)",
    responses=error_responses(401, 422),
)
async def refresh(body: RefreshRequest, session: SessionDep, database: DatabaseDep, settings: SettingsDep) -> TokenPair:
    return await service.refresh(session, database, settings, refresh_token=body.refresh_token)


@router.post(
    "/logout", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke a refresh token and its session",
    responses=error_responses(422),
)
async def logout(body: RefreshRequest, session: SessionDep) -> None:
    await service.logout(session, refresh_token=body.refresh_token)


@router.get("/me", response_model=Me, summary="The signed-in user, roles, team and effective permissions",
            responses=error_responses(401))
async def me(principal: Authenticated, session: SessionDep) -> Me:
    return await service.me(session, principal)
