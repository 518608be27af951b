"""Request ids on every response and every log line."""

import logging
import re
import uuid

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_api.core.context import client_ip_var, request_id_var
from crm_api.core.errors import database_unavailable_response, internal_error_response

log = logging.getLogger("crm_api.errors")

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Takes a well-formed incoming X-Request-ID or makes one; echoes it and exposes it to logs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((value for name, value in scope["headers"] if name == b"x-request-id"), b"").decode("latin-1")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        client = scope.get("client")
        id_token = request_id_var.set(request_id)
        ip_token = client_ip_var.set(client[0] if client else None)

        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            # Handled here rather than by Starlette's outermost handler, so the answer keeps its request id; a
            # middleware's database error (idempotency keys) never reaches the app's exception handlers.
            unavailable = None if started else database_unavailable_response(exc, Request(scope))
            if unavailable is not None:
                await unavailable(scope, receive, send_with_id)
                return
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            await internal_error_response()(scope, receive, send_with_id)
        finally:
            request_id_var.reset(id_token)
            client_ip_var.reset(ip_token)


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get() or "-"
        return True


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"))
    root = logging.getLogger("crm_api")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
