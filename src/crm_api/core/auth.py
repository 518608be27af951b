"""Declare what a route needs: a caller (`Authenticated`) and a permission (`require`).

Who the caller is comes from the resolver the app sets as `app.state.authenticate` (the auth domain's), so core
reads no identity table."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Protocol, cast

from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.config import Settings
from crm_api.core.db import reads_request_session, request_session
from crm_api.core.errors import Forbidden
from crm_api.core.permissions import Principal
from crm_api.core.responses import dependants, raises

bearer_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, description="Integrator API key")
# The ways a caller proves who it is, in the order the contract lists them.
SCHEMES = (bearer_scheme, api_key_scheme)


def bearer_token(request: Request) -> str | None:
    """The token of the `Authorization: Bearer …` header, read as `bearer_scheme` reads it."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def api_key(request: Request) -> str | None:
    return request.headers.get(api_key_scheme.model.name) or None


class Authenticate(Protocol):
    def __call__(
        self, session: AsyncSession, settings: Settings, *, token: str | None, api_key: str | None
    ) -> Awaitable[Principal]: ...


@reads_request_session
@raises("auth.not_authenticated", "auth.invalid_token", "auth.invalid_api_key", "database.unavailable")
async def get_principal(request: Request) -> Principal:
    """The caller. Reads the headers and the session itself: each dependency FastAPI solves costs every request, and
    the schemes and the session as three of them cost a lookup by id a sixteenth of its instructions.
    `security_contract` documents the schemes instead."""
    authenticate: Authenticate = request.app.state.authenticate
    session = request_session(request)
    return await authenticate(session, request.app.state.settings, token=bearer_token(request), api_key=api_key(request))


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


def security_contract(app: FastAPI) -> None:
    """Lists the schemes on every operation whose route resolves the caller (`get_principal`), and describes them."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        components = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        for scheme in SCHEMES:
            components[scheme.scheme_name] = jsonable_encoder(scheme.model, by_alias=True, exclude_none=True)
        security: list[dict[str, list[str]]] = [{scheme.scheme_name: []} for scheme in SCHEMES]
        for context in iter_route_contexts(app.routes):  # an included router's routes, with their full paths
            if not isinstance(context.original_route, APIRoute) or not context.include_in_schema:
                continue
            route = cast(APIRoute, context)
            if any(dependant.call is get_principal for dependant in dependants(route.dependant)):
                for method in route.methods or set():
                    schema["paths"][route.path_format][method.lower()]["security"] = security
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise the schema
