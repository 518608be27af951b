"""The error statuses of each operation, with the codes each is sent with, derived from what the route depends on.

A dependency (or a route's endpoint) declares what it raises with `@raises(...)`: a DomainError class (its status
and code) or a code some error is raised with, whose status the problem catalogue reads from the code that raises
it. `error_contract` walks every route's dependency tree when the OpenAPI document is built: `get_principal` gives
401, `require` 403, the unit of work 503; a path parameter `{customer_id}` gives 404 `customer.not_found`; an
`If-Match` header 412 and 409 `conflict.concurrent_change`. Each response's description lists its codes; 429 and
503 carry `Retry-After`.
"""

from collections.abc import Callable, Iterator
from http import HTTPStatus
from typing import Any, TypeVar, cast

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from crm_api.core.errors import DomainError, NotFound

Raised = type[DomainError] | str
F = TypeVar("F", bound=Callable[..., Any])

_DECLARED: dict[Callable[..., Any], tuple[Raised, ...]] = {}

# The catalogue's code for a record whose label no route parameter names (`{ticket_id}` is a "Service ticket").
NOT_FOUND_PATTERN = "{entity}.not_found"
# The statuses answered with `Retry-After`: a rate limit, the database unavailable.
RETRIED_LATER = frozenset({429, 503})
RETRY_AFTER = {"description": "Seconds to wait before trying again", "schema": {"type": "integer"}}
IF_MATCH_CODES = ("precondition.etag_mismatch", "conflict.concurrent_change")
IDEMPOTENCY_CODES = ("idempotency.in_progress", "idempotency.invalid_key", "idempotency.key_reused")


def raises(*errors: Raised) -> Callable[[F], F]:
    """Declares the errors a dependency or an endpoint raises beyond those of what it depends on: an error class,
    or a code (`"customer.duplicate"`) as the code that raises it writes it. Never a bare status."""

    def declare(call: F) -> F:
        _DECLARED[call] = (*_DECLARED.get(call, ()), *errors)
        return call

    return declare


def dependants(dependant: Dependant) -> Iterator[Dependant]:
    """The dependant and everything it depends on, depth first."""
    yield dependant
    for dependency in dependant.dependencies:
        yield from dependants(dependency)


def _declared(route: APIRoute) -> Iterator[Raised]:
    for dependant in dependants(route.dependant):
        if dependant.call is not None:
            yield from _DECLARED.get(dependant.call, ())
        if any(parameter.alias.lower() == "if-match" for parameter in dependant.header_params):
            yield from IF_MATCH_CODES


def _route_errors(
    route: APIRoute, statuses_of: Callable[[str], set[int] | None], operation: dict[str, Any]
) -> dict[int, set[str]]:
    errors: dict[int, set[str]] = {}
    codes: list[Raised] = list(_declared(route))
    path_params = {parameter.alias for dependant in dependants(route.dependant) for parameter in dependant.path_params}
    for name in sorted(path_params):  # a record the path names, looked up in the caller's data scope
        if name.endswith("_id"):
            record = NotFound(name.removesuffix("_id")).code
            codes.append(record if statuses_of(record) else NOT_FOUND_PATTERN)
    if any(parameter.get("name") == "Idempotency-Key" for parameter in operation.get("parameters", [])):
        codes += IDEMPOTENCY_CODES
    if "requestBody" in operation:
        codes.append("request.too_large")
    codes.append("validation_failed")  # every operation checks its input, unknown query parameters too
    for raised in codes:
        if isinstance(raised, type):
            errors.setdefault(raised.status, set()).add(raised.code)
            continue
        statuses = statuses_of(raised)
        if not statuses:
            raise ValueError(f"{route.name} declares {raised!r}, a code the service never answers")
        for status in statuses:
            errors.setdefault(status, set()).add(raised)
    return errors


def describe(status: int, codes: set[str]) -> str:
    return f"{HTTPStatus(status).phrase}: " + ", ".join(f"`{code}`" for code in sorted(codes))


def error_contract(app: FastAPI, statuses_of: Callable[[str], set[int] | None]) -> None:
    """Documents each operation's error statuses, described by their codes, from what its route depends on and
    declares (`statuses_of(code)`: the statuses a code is answered with, None for a code nothing raises). Install
    after `header_contract` and before `problem_contract`, which gives every error status its problem+json body."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        paths = schema.get("paths", {})
        for context in iter_route_contexts(app.routes):  # an included router's routes, with their full paths
            if not isinstance(context.original_route, APIRoute) or not context.include_in_schema:
                continue
            route = cast(APIRoute, context)
            for method in route.methods or set():
                operation = paths[route.path_format][method.lower()]
                responses = operation["responses"]
                for status, codes in _route_errors(route, statuses_of, operation).items():
                    response = responses.setdefault(str(status), {})
                    response["description"] = describe(status, codes)
                    if status in RETRIED_LATER:
                        response.setdefault("headers", {})["Retry-After"] = RETRY_AFTER
                operation["responses"] = dict(sorted(responses.items()))
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise the schema
