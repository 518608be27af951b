"""Idempotency-Key on writes: a retried request gets the first response instead of a second effect."""

import hashlib
import re
from datetime import timedelta
from typing import Any, TypedDict, cast

from sqlalchemy import CursorResult, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_api.core.clock import clock
from crm_api.core.config import Settings
from crm_api.core.db import Database
from crm_api.core.errors import problem_response
from crm_api.core.scheduler import register_job
from crm_api.core.security import decode_access_token, fingerprint
from crm_api.core.tables import IdempotencyRecord

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The paths whose writes the middleware keeps: the API, not the docs or health checks.
IDEMPOTENT_PATHS = "/api/"
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
RETENTION = timedelta(hours=24)
# A request that has not finished by then is taken to have died with its process.
ABANDONED_AFTER = timedelta(minutes=5)
# Responses worth replaying; 401/429/5xx are about the moment, so a retry runs again.
NOT_STORED = frozenset({401, 429})
REPLAYED_HEADERS = ("content-type", "etag", "location", "content-disposition")


class _Captured(TypedDict):
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytearray


def _caller(settings: Settings, headers: dict[bytes, bytes]) -> str:
    authorization = headers.get(b"authorization", b"").decode("latin-1")
    if authorization.lower().startswith("bearer "):
        decoded = decode_access_token(settings, authorization[7:])
        if decoded is not None:
            return f"user:{decoded[0]}"
    api_key = headers.get(b"x-api-key", b"").decode("latin-1")
    return f"key:{fingerprint(api_key)}" if api_key else "anonymous"


async def _claim(session: AsyncSession, record_id: str, request_fingerprint: str) -> IdempotencyRecord | None:
    """The stored record for this key, or None once this request has claimed the key."""
    existing = await session.get(IdempotencyRecord, record_id)
    now = clock.now()
    if existing is not None:
        stale = existing.created_at < now - RETENTION
        abandoned = existing.completed_at is None and existing.created_at < now - ABANDONED_AFTER
        if not (stale or abandoned):
            return existing
        await session.delete(existing)
        await session.flush()
    session.add(IdempotencyRecord(id=record_id, fingerprint=request_fingerprint, created_at=now))
    await session.flush()
    return None


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers", ())) if scope["type"] == "http" else {}
        key = headers.get(b"idempotency-key")
        if key is None or scope["method"] not in WRITE_METHODS or not scope["path"].startswith(IDEMPOTENT_PATHS):
            await self.app(scope, receive, send)
            return
        raw_key = key.decode("latin-1")
        if not KEY_PATTERN.match(raw_key):
            response = problem_response(
                422, "idempotency.invalid_key", detail="Idempotency-Key must be 1-255 visible ASCII characters"
            )
            await response(scope, receive, send)
            return

        body = await _read_body(receive)
        app_state = scope["app"].state
        database: Database = app_state.db
        record_id = fingerprint(f"{_caller(app_state.settings, headers)}\n{raw_key}")
        target = f"{scope['method']}\n{scope['path']}\n{scope.get('query_string', b'').decode('latin-1')}\n"
        request_fingerprint = hashlib.sha256(target.encode() + body).hexdigest()

        try:
            async with database.sessionmaker() as session, session.begin():
                existing = await _claim(session, record_id, request_fingerprint)
        except IntegrityError:  # another request claimed the key between our read and insert
            await problem_response(
                409, "idempotency.in_progress", detail="A request with this Idempotency-Key is still being processed"
            )(scope, receive, send)
            return

        if existing is not None:
            await _answer_from_record(existing, request_fingerprint, scope, receive, send)
            return

        captured: _Captured = {"status": 500, "headers": [], "body": bytearray()}

        async def replay_body() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = message.get("headers", [])
            elif message["type"] == "http.response.body":
                captured["body"].extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_body, capture)
        finally:
            await _settle(database, record_id, captured)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _answer_from_record(
    record: IdempotencyRecord, request_fingerprint: str, scope: Scope, receive: Receive, send: Send
) -> None:
    if record.fingerprint != request_fingerprint:
        response = problem_response(422, "idempotency.key_reused", detail="This Idempotency-Key was used for a different request")
    elif record.completed_at is None:
        response = problem_response(
            409, "idempotency.in_progress", detail="A request with this Idempotency-Key is still being processed"
        )
    else:
        headers = [(name.encode(), value.encode()) for name, value in record.headers.items()]
        await send(
            {
                "type": "http.response.start",
                "status": record.status_code,
                "headers": [*headers, (b"idempotent-replayed", b"true")],
            }
        )
        await send({"type": "http.response.body", "body": record.body or b""})
        return
    await response(scope, receive, send)


async def _settle(database: Database, record_id: str, captured: _Captured) -> None:
    status = int(captured["status"])
    async with database.sessionmaker() as session, session.begin():
        if status >= 500 or status in NOT_STORED:
            await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id))
            return
        record = await session.get(IdempotencyRecord, record_id)
        if record is None:
            return
        kept = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in captured["headers"]
            if name.decode("latin-1").lower() in REPLAYED_HEADERS
        }
        record.status_code, record.headers, record.body = status, kept, bytes(captured["body"])
        record.completed_at = clock.now()


@register_job("idempotency_cleanup", cron=lambda settings: "17 4 * * *")
async def forget_old_keys(session: AsyncSession, settings: Settings) -> dict[str, int]:
    statement = delete(IdempotencyRecord).where(IdempotencyRecord.created_at < clock.now() - RETENTION)
    # A DELETE's result is a CursorResult; AsyncSession.execute is typed to return the base Result.
    result = cast("CursorResult[Any]", await session.execute(statement))
    return {"deleted": result.rowcount or 0}
