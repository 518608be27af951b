"""What every request and response passes at the edge: input no route should see, and the security headers."""

import re
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, ClassVar

from fastapi.routing import APIRoute, _effective_route_context_var
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_api.core.errors import REQUEST_TOO_LARGE, FieldError, InvalidInput, invalid_input_response, problem_response
from crm_api.core.query import Given, ReadOnce, accepted_prefixes, query_model


class BodyTooLarge(HTTPException):
    """Raised from `receive`: an HTTPException, so FastAPI's body reading lets it through to the handlers."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes")


class InputGuardMiddleware:
    """422 for a NUL in the path or query; 413 for a body over its limit, before it is read.

    The limit is checked against Content-Length first, then against the bytes as they stream in,
    so a chunked body is never buffered past it. `upload_limits` gives upload paths a larger one.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, upload_limits: Mapping[re.Pattern[str], int]) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.upload_limits = upload_limits

    def _limit(self, path: str) -> int:
        return next((limit for pattern, limit in self.upload_limits.items() if pattern.match(path)), self.max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nul_in_path = "\x00" in scope["path"]
        if nul_in_path or b"%00" in scope["query_string"]:
            where = "path" if nul_in_path else "query"
            error = FieldError(field=where, message="NUL characters are not allowed", type="string_nul")
            await invalid_input_response(Request(scope), [error])(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if length is None and "transfer-encoding" not in headers and scope.get("http_version") in ("1.0", "1.1"):
            # No body, as HTTP/1 frames a request (a GET): nothing to count. HTTP/2 may send one undeclared.
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope["path"])
        try:
            declared = int(length or "")
        except ValueError:
            declared = None
        if declared is not None and declared > limit:
            await _too_large(BodyTooLarge(limit), scope, receive, send)
            return

        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge as exc:
            # Read outside the routes (the idempotency middleware reads bodies itself): answered here.
            if started:
                raise
            await _too_large(exc, scope, receive, send)


async def _too_large(exc: BodyTooLarge, scope: Scope, receive: Receive, send: Send) -> None:
    response = problem_response(413, REQUEST_TOO_LARGE, detail=exc.detail, request=Request(scope))
    await response(scope, receive, send)


# The API answers JSON and files: nothing may run, load or frame it.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
# Swagger UI and ReDoc run their own inline script and load their assets from the service itself.
DOCS_CSP = (
    "default-src 'self'; "
    "script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; "
    "worker-src 'self' blob:; "
    "frame-ancestors 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"


class SecurityHeadersMiddleware:
    """The headers every response carries; HSTS only where the service is served over HTTPS (production)."""

    def __init__(self, app: ASGIApp, *, docs_paths: frozenset[str], hsts: bool) -> None:
        self.app = app
        self.docs_paths = docs_paths
        common = {
            "x-content-type-options": "nosniff",
            "referrer-policy": "no-referrer",
            "x-frame-options": "DENY",
        } | ({"strict-transport-security": HSTS} if hsts else {})
        # As the raw header pairs a response start carries, built once: every response adds them.
        self.api, self.docs = (
            tuple((name.encode(), value.encode()) for name, value in (common | {"content-security-policy": csp}).items())
            for csp in (API_CSP, DOCS_CSP)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = self.docs if scope["path"] in self.docs_paths else self.api

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message["headers"] = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}  # a response's own value of one is kept
                headers.extend(pair for pair in added if pair[0] not in present)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _query_names(route: APIRoute) -> frozenset[str]:
    """The query parameters a route declares, through its dependencies and query models."""
    names: set[str] = set()
    dependants = [route.dependant]
    while dependants:
        dependant = dependants.pop()
        dependants.extend(dependant.dependencies)
        for field in dependant.query_params:
            model = query_model(field.field_info.annotation)
            if model is not None:
                names.update(info.alias or name for name, info in model.model_fields.items())
            else:
                names.add(field.alias)
    return frozenset(names)


class DeclaredQueryRoute(APIRoute):
    """A route that refuses a query parameter it does not declare: a 422 naming it, not silently ignored (a misspelt
    filter would otherwise answer the unfiltered list). Checked before the route's dependencies are solved, with the
    names read once per route: as an app-wide dependency it cost every request one more of FastAPI's dependency
    solves."""

    # The dependencies whose value the route gives from the request itself (`ReadOnce`).
    given: ClassVar[Mapping[Callable[..., Any], Given]] = {}

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        # FastAPI builds the handler from the dependant of the route, or of the inclusion (prefix, router-level
        # dependencies) it builds it for; the contract keeps the declared one, the handler reads the query once.
        context = _effective_route_context_var.get()
        built_for: Any = context if context is not None and context.original_route is self else self
        declaring = built_for.dependant
        reading, built_for.dependant = ReadOnce.of(declaring, self.given)
        try:
            handler = super().get_route_handler()
        finally:
            built_for.dependant = declaring
        declared = _query_names(self)
        prefixes = tuple(accepted_prefixes(self.dependant))

        async def with_declared_query(request: Request) -> Response:
            if request.scope["query_string"]:
                names = dict.fromkeys(request.query_params.keys())
                unknown = [name for name in names if name not in declared and not name.startswith(prefixes)]
                if unknown:
                    errors = [
                        FieldError(field=name, message="Unknown query parameter", type="unknown_parameter") for name in unknown
                    ]
                    raise InvalidInput.many(errors, f"Unknown query parameter: {', '.join(unknown)}")
            reading.read(request)
            return await handler(request)

        return with_declared_query
