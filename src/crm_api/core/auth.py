"""Declare what a route needs: a caller (`Authenticated`) and a permission (`require`).

Who the caller is comes from the resolver the app sets as `app.state.authenticate` (the auth domain's), so core
reads no identity table."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Protocol

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.config import Settings
from crm_api.core.db import SessionDep
from crm_api.core.errors import Forbidden
from crm_api.core.permissions import Principal
from crm_api.core.responses import raises

bearer_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, description="Integrator API key")


class Authenticate(Protocol):
    def __call__(
        self, session: AsyncSession, settings: Settings, *, token: str | None, api_key: str | None
    ) -> Awaitable[Principal]: ...


@raises("auth.not_authenticated", "auth.invalid_token", "auth.invalid_api_key")
async def get_principal(
    request: Request,
    session: SessionDep,
    token: Annotated[str | None, Depends(bearer_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> Principal:
    authenticate: Authenticate = request.app.state.authenticate
    return await authenticate(session, request.app.state.settings, token=token, api_key=api_key)


Authenticated = Annotated[Principal, Depends(get_principal)]


def require(permission: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets the request through only if the caller holds `permission` (any scope)."""

    @raises("auth.missing_permission")
    async def check(principal: Authenticated) -> Principal:
        if not principal.can(permission):
            raise Forbidden(f"This action needs the permission {permission}", code="auth.missing_permission")
        return principal

    check.__name__ = f"require_{permission.replace(':', '_')}"
    return check
