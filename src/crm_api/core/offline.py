"""Creates an offline client replays (SPEC §3.16): the app names each new record with a UUID, `client_id`, and sends
the create again until it hears back. The same UUID from the same creator returns the first record (200, not a
duplicate); the same UUID with another body is a 409, since it names another record. A model opts in with
core.orm's `ClientCreated` and a unique (created_by_id, client_id)."""

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Generic, NamedTuple, TypeVar
from uuid import UUID

from fastapi import Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.errors import Conflict

ClientId = Annotated[
    UUID | None,
    Field(
        description="The app's UUID for a record created offline: sending the create again returns the first record "
        "(200) instead of a duplicate; the same UUID with another body is a 409",
        examples=["6f1c2a0e-8d3b-4c1e-9a55-2f1d7c3b9e10"],
    ),
]
# Fields of a create body that describe the request, not the record: never a column of a file or a form.
REQUEST_FIELDS = {"client_id"}

T = TypeVar("T")


class Created(NamedTuple, Generic[T]):
    record: T
    replayed: bool = False

    def answer(self, response: Response) -> T:
        """The record, answered 200 instead of the route's 201 when the create was a replay."""
        if self.replayed:
            response.status_code = 200
        return self.record


def digest(body: BaseModel, **context: Any) -> str:
    """What a create asked for (the body, and `context`: the path's ids), to tell a replay from a reuse."""
    asked = body.model_dump(mode="json", exclude=REQUEST_FIELDS) | context
    return hashlib.sha256(json.dumps(asked, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


async def first_of(session: AsyncSession, model: Any, *, creator_id: int | None, body: Any, **context: Any) -> Any | None:
    """The record this creator made with the body's `client_id`, if any; 409 if it was made from another body."""
    client_id: UUID | None = body.client_id
    if client_id is None or creator_id is None:
        return None
    statement = select(model).where(model.created_by_id == creator_id, model.client_id == client_id)
    record = await session.scalar(statement)
    if record is not None and record.client_digest != digest(body, **context):
        raise Conflict(
            f"client_id {client_id} already names another {model.__name__.lower()} of yours; give each new record its own",
            code="client_id.reused",
            existing_id=record.id,
        )
    return record


async def create_once(
    session: AsyncSession, model: Any, *, creator_id: int | None, body: Any, make: Callable[[], Awaitable[Any]], **context: Any
) -> Created[Any]:
    """The record an earlier create with the body's `client_id` made (a replay), or the new one `make()` builds from
    it (checking its rules), added once. `context`: the path's ids, part of what was asked."""
    first = await first_of(session, model, creator_id=creator_id, body=body, **context)
    if first is not None:
        return Created(first, replayed=True)
    try:
        record = await make()
    except Conflict:
        # A concurrent create with this client_id committed after the look above: its record is what a rule (the
        # duplicate guard) now conflicts with, and this request is its replay.
        first = await first_of(session, model, creator_id=creator_id, body=body, **context) if body.client_id else None
        if first is None:
            raise
        return Created(first, replayed=True)
    return await add_once(session, record, body=body, **context)


async def add_once(session: AsyncSession, record: Any, *, body: Any, **context: Any) -> Created[Any]:
    """Add and flush a new record made from `body`; when a concurrent create with the same `client_id` committed first
    (the unique (created_by_id, client_id) refuses this one), that record instead, as a replay."""
    if record.client_id is None:
        session.add(record)
        await session.flush()
        return Created(record)
    try:
        async with session.begin_nested():  # a savepoint: the refused INSERT alone is undone
            session.add(record)
    except IntegrityError:
        first = await first_of(session, type(record), creator_id=record.created_by_id, body=body, **context)
        if first is None:
            raise
        return Created(first, replayed=True)
    return Created(record)


def client_columns(body: Any, **context: Any) -> dict[str, Any]:
    """The `client_id` and `client_digest` values of a new record made from `body`."""
    client_id: UUID | None = body.client_id
    return {"client_id": client_id, "client_digest": digest(body, **context) if client_id is not None else None}


def replay_response(read: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI entry of a create's 200: a replay, answered with the first record."""
    return {200: {"model": read, "description": "A replay of an earlier create with this `client_id`: the first record"}}
