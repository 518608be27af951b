"""Idempotency-Key on writes: a retried request gets the first response instead of a second effect."""

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from typing import Any, cast

from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy import CursorResult, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_api.core.clock import clock
from crm_api.core.config import Settings
from crm_api.core.db import JOINED_TRANSACTION, Database, after_commit, request_database
from crm_api.core.errors import FieldError, problem_response
from crm_api.core.http import no_store, path_template
from crm_api.core.scheduler import register_job
from crm_api.core.security import decode_access_token, fingerprint
from crm_api.core.tables import IdempotencyRecord

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The paths whose writes the middleware keeps: the API, not the docs or health checks.
IDEMPOTENT_PATHS = "/api/"
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
RETENTION = timedelta(hours=24)
# Responses worth replaying; 401/429/5xx are about the moment, so a retry runs again.
NOT_STORED = frozenset({401, 429})
REPLAYED_HEADERS = ("content-type", "etag", "location", "content-disposition")


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any] | None]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)


def keeps(route: APIRoute) -> bool:
    """Whether the middleware keeps a write to `route`. Not when its response carries credentials (`no_store`: tokens,
    keys, recovery codes), which are stored nowhere; nor when it commits in transactions of its own (`DatabaseDep`: a
    sign-in attempt, a job run now), which the key, kept in the request's transaction, cannot make happen once (and
    on SQLite would wait for the key's write lock until it timed out)."""
    calls = set(_calls(route.dependant))
    return no_store not in calls and request_database not in calls


def unkept_writes(routers: Iterable[APIRouter], prefix: str) -> frozenset[tuple[str, str]]:
    """(method, path template) of the writes the middleware leaves alone, as `keeps` says."""
    return frozenset(
        (method, f"{prefix}{route.path}")
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and not keeps(route)
        for method in (route.methods or set()) & WRITE_METHODS
    )


class _InProgress(Exception):
    """Another live request holds the key."""


def _caller(settings: Settings, headers: dict[bytes, bytes]) -> str:
    authorization = headers.get(b"authorization", b"").decode("latin-1")
    if authorization.lower().startswith("bearer "):
        decoded = decode_access_token(settings, authorization[7:])
        if decoded is not None:
            return f"user:{decoded[0]}"
    api_key = headers.get(b"x-api-key", b"").decode("latin-1")
    return f"key:{fingerprint(api_key)}" if api_key else "anonymous"


async def _claim(session: AsyncSession, record_id: str, request_fingerprint: str) -> IdempotencyRecord | None:
    """The stored answer for this key, or None once this transaction holds the key (its record is pending in it).

    PostgreSQL: an advisory lock held until the transaction ends, so a concurrent duplicate is refused at once
    and a crashed holder's lock dies with its connection. SQLite: the pending record's insert takes the write
    lock, so a duplicate waits for the holder's commit and then finds its answer.
    """
    if session.get_bind().dialect.name == "postgresql":
        lock = int(record_id[:16], 16) - 2**63  # a signed bigint from the key's hash
        if not await session.scalar(select(func.pg_try_advisory_xact_lock(lock))):
            raise _InProgress
    existing = await session.get(IdempotencyRecord, record_id)
    if existing is not None:
        # No answer: a record left by the earlier design, whose request ended long ago.
        if existing.completed_at is not None and existing.created_at >= clock.now() - RETENTION:
            return existing
        await session.delete(existing)
        await session.flush()
    session.add(IdempotencyRecord(id=record_id, fingerprint=request_fingerprint, created_at=clock.now()))
    try:
        await session.flush()
    except IntegrityError:  # SQLite: the holder committed while this request waited for the write lock
        await session.rollback()
        stored = await session.get(IdempotencyRecord, record_id)
        if stored is None:
            raise _InProgress from None
        return stored
    return None


class IdempotencyMiddleware:
    """Claims the key in a transaction the request joins, and commits the response with the request's effect."""

    def __init__(self, app: ASGIApp, unkept: frozenset[tuple[str, str]] = frozenset()) -> None:
        self.app = app
        self.unkept = [(method, path_template(path)) for method, path in unkept]

    def _keeps(self, scope: Scope) -> bool:
        method, path = scope["method"], scope["path"]
        if method not in WRITE_METHODS or not path.startswith(IDEMPOTENT_PATHS):
            return False
        return not any(method == unkept and template.fullmatch(path) for unkept, template in self.unkept)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITE_METHODS:  # a read passes, its headers unread
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        key = headers.get(b"idempotency-key")
        if key is None or not self._keeps(scope):
            await self.app(scope, receive, send)
            return
        raw_key = key.decode("latin-1")
        if not KEY_PATTERN.match(raw_key):
            response = problem_response(
                422,
                "idempotency.invalid_key",
                detail="Idempotency-Key must be 1-255 visible ASCII characters",
                errors=_at_key("not 1-255 visible ASCII characters", "invalid_key"),
            )
            await response(scope, receive, send)
            return

        body = await _read_body(receive)
        app_state = scope["app"].state
        database: Database = app_state.db
        record_id = fingerprint(f"{_caller(app_state.settings, headers)}\n{raw_key}")
        target = f"{scope['method']}\n{scope['path']}\n{scope.get('query_string', b'').decode('latin-1')}\n"
        request_fingerprint = hashlib.sha256(target.encode() + body).hexdigest()

        async def replay_body() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        # Held back until the transaction that produced them has committed with them.
        messages: list[Message] = []

        async def hold(message: Message) -> None:
            messages.append(message)

        async with database.sessionmaker() as session:
            try:
                await session.begin()
                stored = await _claim(session, record_id, request_fingerprint)
                if stored is None:
                    await self.app({**scope, JOINED_TRANSACTION: session}, replay_body, hold)
                    await _settle(session, record_id, request_fingerprint, messages)
            except _InProgress:
                await _in_progress()(scope, receive, send)
                return
        if stored is not None:
            await _answer_from_record(stored, request_fingerprint, scope, receive, send)
            return
        after_commit(scope)
        for message in messages:
            await send(message)


def _at_key(message: str, type: str) -> list[FieldError]:
    """A 422 like every other: `errors` names the header at fault."""
    return [FieldError(field="Idempotency-Key", message=message, type=type)]


def _in_progress() -> Response:
    return problem_response(409, "idempotency.in_progress", detail="A request with this Idempotency-Key is still being processed")


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
        response = problem_response(
            422,
            "idempotency.key_reused",
            detail="This Idempotency-Key was used for a different request",
            errors=_at_key("used for a different request", "key_reused"),
        )
        await response(scope, receive, send)
        return
    headers = [(name.encode(), value.encode()) for name, value in record.headers.items()]
    await send(
        {
            "type": "http.response.start",
            "status": record.status_code,
            "headers": [*headers, (b"idempotent-replayed", b"true")],
        }
    )
    await send({"type": "http.response.body", "body": record.body or b""})


async def _settle(session: AsyncSession, record_id: str, request_fingerprint: str, messages: list[Message]) -> None:
    """Commits the request's transaction with its response in the key's record.

    A request that raised has rolled its transaction back, and with it the key: its refusal is kept in a new one,
    unless a retry has claimed the key meanwhile (that retry keeps its own answer).
    """
    start: Message = next((message for message in messages if message["type"] == "http.response.start"), {})
    status = int(start.get("status", 500))
    stored = status < 500 and status not in NOT_STORED
    if not session.in_transaction():
        if not stored:
            return
        await session.begin()
        try:
            if await _claim(session, record_id, request_fingerprint) is not None:
                return
        except _InProgress:
            return
    record = await session.get(IdempotencyRecord, record_id)
    assert record is not None  # pending in this transaction since the claim
    if stored:
        record.status_code = status
        record.headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in start.get("headers", [])
            if name.decode("latin-1").lower() in REPLAYED_HEADERS
        }
        record.body = b"".join(message.get("body", b"") for message in messages if message["type"] == "http.response.body")
        record.completed_at = clock.now()
    else:
        await session.delete(record)  # the request's effect, if any, still commits
    await session.commit()


@register_job("idempotency_cleanup", cron=lambda settings: "17 4 * * *")
async def forget_old_keys(session: AsyncSession, settings: Settings) -> dict[str, int]:
    statement = delete(IdempotencyRecord).where(IdempotencyRecord.created_at < clock.now() - RETENTION)
    # A DELETE's result is a CursorResult; AsyncSession.execute is typed to return the base Result.
    result = cast("CursorResult[Any]", await session.execute(statement))
    return {"deleted": result.rowcount or 0}
