"""Request ids on every response and every log line, and the access log."""

import json
import logging
import os
import random
import re
import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_api.core.context import client_ip_var, request_id_var
from crm_api.core.errors import database_unavailable_response, internal_error_response

log = logging.getLogger("crm_api.errors")
access_log = logging.getLogger("crm_api.access")

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True)
class AccessLog:
    """Which requests the access log records: a random `share` of them, and every failure or slow one."""

    share: float
    slow_ms: float

    def record(self, scope: Scope, status: int, elapsed_ms: float, request_id: str) -> None:
        if status < 500 and elapsed_ms < self.slow_ms and random.random() >= self.share:
            return
        client = scope.get("client")
        line = {
            "method": scope.get("method"),
            "path": scope.get("path"),
            "status": status,
            "ms": round(elapsed_ms, 1),
            "request_id": request_id,
            "client": client[0] if client else None,
        }
        access_log.info(json.dumps(line, ensure_ascii=False))


class RequestIdMiddleware:
    """Takes a well-formed incoming X-Request-ID or makes one; echoes it and exposes it to logs; records the request
    in the access log (uvicorn's own, unstructured and unsampled, is off)."""

    def __init__(self, app: ASGIApp, access: AccessLog) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((value for name, value in scope["headers"] if name == b"x-request-id"), b"").decode("latin-1")
        # A made one is as random as a uuid4, without building a UUID.
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else os.urandom(16).hex()
        client = scope.get("client")
        id_token = request_id_var.set(request_id)
        ip_token = client_ip_var.set(client[0] if client else None)

        started = False
        status = 500
        began = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started, status = True, message["status"]
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
            self.access.record(scope, status, (time.perf_counter() - began) * 1000, request_id)
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
