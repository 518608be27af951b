"""The transactional outbox: domains publish events in their own transaction; the webhook dispatcher sends them.

A rolled-back change publishes nothing, and a committed one is never lost, because the event is a row
written by the same session as the change.
"""

from collections.abc import Sequence
from typing import Any, cast

from pydantic_core import to_jsonable_python
from sqlalchemy import ColumnElement, ColumnExpressionArgument, CursorResult, String, exists, func, insert, literal, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.clock import clock
from crm_api.core.tables import OutboxEvent


async def publish(
    session: AsyncSession, *, event_type: str, entity_type: str, entity_id: object, payload: dict[str, Any]
) -> None:
    """Record `event_type` for the entity in the caller's transaction (values made JSON-ready here)."""
    session.add(
        OutboxEvent(
            event_type=event_type,
            entity_type=entity_type,
            entity_id=str(entity_id),
            payload=to_jsonable_python(payload),
            occurred_at=clock.now(),
        )
    )


def json_object(session: AsyncSession, **values: ColumnExpressionArgument[Any]) -> ColumnElement[Any]:
    """A JSON object built in SQL from named columns, for set-based publishing."""
    build = func.json_build_object if session.get_bind().dialect.name == "postgresql" else func.json_object
    arguments: list[Any] = []
    for key, value in values.items():
        arguments += [literal(key), value]
    return build(*arguments)


async def publish_selected(
    session: AsyncSession,
    *,
    event_type: str,
    entity_type: str,
    entity_id: ColumnExpressionArgument[Any],
    payload: ColumnElement[Any],
    where: Sequence[ColumnElement[bool]],
) -> int:
    """One INSERT … SELECT: an event per matching row not yet published with this type; returns how many."""
    entity_key = sql_cast(entity_id, String)
    already = exists().where(
        OutboxEvent.event_type == event_type, OutboxEvent.entity_type == entity_type, OutboxEvent.entity_id == entity_key
    )
    rows = select(
        literal(event_type), literal(entity_type), entity_key, payload, literal(clock.now(), OutboxEvent.occurred_at.type)
    ).where(*where, ~already)
    columns = ["event_type", "entity_type", "entity_id", "payload", "occurred_at"]
    # An INSERT's result is a CursorResult; AsyncSession.execute is typed to return the base Result.
    result = cast("CursorResult[Any]", await session.execute(insert(OutboxEvent).from_select(columns, rows)))
    return result.rowcount
