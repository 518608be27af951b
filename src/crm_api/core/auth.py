"""Declare what a route needs: a caller (`Authenticated`) and a permission (`require`).

Who the caller is comes from the resolver the app sets as `app.state.authenticate` (the auth domain's), so core
reads no identity table."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Protocol, cast

from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.encoders import jsonable_encoder
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.config import Settings
from crm_api.core.db import reads_request_session, request_session
from crm_api.core.errors import Forbidden
from crm_api.core.permissions import Principal
from crm_api.core.responses import F, dependants, raises

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


# The request's caller, once resolved.
_PRINCIPAL = "crm.principal"
# The dependencies that resolve the caller (`resolves_caller`).
_CALLER_RESOLVERS: set[Callable[..., Any]] = set()


def resolves_caller(dependency: F) -> F:
    """Declares a dependency that resolves the caller by calling `get_principal(request)` itself, rather than through
    a nested dependency FastAPI would solve on every request (a tenth of a lookup by id's dependency work): it reads
    the session, may answer what resolving the caller answers, and its routes list the security schemes."""
    _CALLER_RESOLVERS.add(dependency)
    errors = ("auth.not_authenticated", "auth.invalid_token", "auth.invalid_api_key", "database.unavailable")
    return raises(*errors)(reads_request_session(dependency))


def resolves_the_caller(dependant: Dependant) -> bool:
    """Whether a route (its dependency tree) resolves the caller."""
    return any(each.call in _CALLER_RESOLVERS for each in dependants(dependant))


@resolves_caller
async def get_principal(request: Request) -> Principal:
    """The caller, resolved once per request. Reads the headers and the session itself: each dependency FastAPI
    solves costs every request, and the schemes and the session as three of them cost a lookup by id a sixteenth
    of its instructions. `security_contract` documents the schemes instead."""
    principal: Principal | None = request.scope.get(_PRINCIPAL)
    if principal is None:
        authenticate: Authenticate = request.app.state.authenticate
        session = request_session(request)
        token, key = bearer_token(request), api_key(request)
        principal = request.scope[_PRINCIPAL] = await authenticate(session, request.app.state.settings, token=token, api_key=key)
    return principal


Authenticated = Annotated[Principal, Depends(get_principal)]


def require(permission: str) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that lets the request through only if the caller holds `permission` (any scope)."""

    @resolves_caller
    @raises("auth.missing_permission")
    async def check(request: Request) -> Principal:
        principal = await get_principal(request)
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
            if resolves_the_caller(route.dependant):
                for method in route.methods or set():
                    schema["paths"][route.path_format][method.lower()]["security"] = security
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise the schema
