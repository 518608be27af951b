from typing import Annotated

from fastapi import Depends, Form, Request, status

from crm_api.auth import service, totp
from crm_api.auth.schemas import (
    LoginRequest,
    Me,
    RecoveryCodes,
    RefreshRequest,
    TokenPair,
    TotpDisable,
    TotpEnable,
    TotpSetup,
)
from crm_api.core.auth import Authenticated
from crm_api.core.config import SettingsDep
from crm_api.core.db import DatabaseDep, SessionDep
from crm_api.core.http import Rendered, no_store
from crm_api.core.responses import raises
from crm_api.core.routing import DomainRouter
from crm_api.core.schemas import PlainText
from crm_api.core.security import PasswordChecks

# Tokens must not be kept by a browser or proxy cache.
router = DomainRouter(prefix="/auth", tags=["auth"], dependencies=[Depends(no_store)])


async def _password_checks(request: Request) -> PasswordChecks:
    checks: PasswordChecks = request.app.state.password_checks
    return checks


PasswordChecksDep = Annotated[PasswordChecks, Depends(_password_checks)]


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.post(
    "/login",
    response_model=TokenPair,
    summary="Sign in with username and password",
)
@raises("auth.invalid_credentials", "auth.otp_required", "auth.invalid_otp", "auth.busy", "auth.too_many_attempts")
async def login(
    body: LoginRequest,
    request: Request,
    session: SessionDep,
    database: DatabaseDep,
    checks: PasswordChecksDep,
    settings: SettingsDep,
) -> TokenPair:
    return await service.login(
        session,
        database,
        checks,
        settings,
        username=body.username,
        password=body.password,
        otp=body.otp,
        client_ip=_client_ip(request),
    )


@router.post(
    "/token",
    response_model=TokenPair,
    summary="Sign in with an OAuth2 password form (Swagger UI's Authorize)",
)
@raises("auth.invalid_credentials", "auth.otp_required", "auth.invalid_otp", "auth.busy", "auth.too_many_attempts")
async def token(
    username: Annotated[PlainText, Form(min_length=1, max_length=64)],
    password: Annotated[PlainText, Form(min_length=1, max_length=256, json_schema_extra={"format": "password"})],
    request: Request,
    session: SessionDep,
    database: DatabaseDep,
    checks: PasswordChecksDep,
    settings: SettingsDep,
    otp: Annotated[PlainText | None, Form(max_length=32, description="The second factor's code, when it is on")] = None,
) -> TokenPair:
    return await service.login(
        session,
        database,
        checks,
        settings,
        username=username,
        password=password,
        otp=otp,
        client_ip=_client_ip(request),
    )


@router.post(
    "/refresh",
    response_model=TokenPair,
    summary="Exchange a refresh token for a new pair (rotation)",
)
@raises("auth.invalid_refresh_token", "auth.refresh_token_reused")
async def refresh(body: RefreshRequest, session: SessionDep, database: DatabaseDep, settings: SettingsDep) -> TokenPair:
    return await service.refresh(session, database, settings, refresh_token=body.refresh_token)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke a refresh token and its session",
)
async def logout(body: RefreshRequest, session: SessionDep) -> None:
    await service.logout(session, refresh_token=body.refresh_token)


@router.get("/me", response_model=Me, summary="The signed-in user, roles, team and effective permissions")
@raises("auth.not_a_user")
async def me(principal: Authenticated, session: SessionDep) -> Rendered:
    return Rendered(await service.me(session, principal))


@router.post(
    "/totp/setup",
    response_model=TotpSetup,
    summary="Start the TOTP second factor: a new secret and its otpauth:// URI, active once enabled",
)
@raises("auth.totp_already_enabled", "auth.not_a_user")
async def setup_totp(principal: Authenticated, session: SessionDep) -> TotpSetup:
    return await totp.setup(session, principal)


@router.post(
    "/totp/enable",
    response_model=RecoveryCodes,
    summary="Turn the second factor on with a current code; returns the recovery codes this once",
)
@raises("auth.totp_not_set_up", "auth.totp_already_enabled", "auth.invalid_otp", "auth.not_a_user")
async def enable_totp(body: TotpEnable, principal: Authenticated, session: SessionDep) -> RecoveryCodes:
    return RecoveryCodes(recovery_codes=await totp.enable(session, principal, code=body.code))


@router.post(
    "/totp/disable",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Turn the second factor off (password and a code needed)",
)
@raises("auth.totp_not_enabled", "auth.invalid_password", "auth.invalid_otp", "auth.busy", "auth.not_a_user")
async def disable_totp(body: TotpDisable, principal: Authenticated, session: SessionDep, checks: PasswordChecksDep) -> None:
    await totp.disable(session, checks, principal, password=body.password, code=body.code)
