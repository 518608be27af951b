"""The transactional outbox: domains publish events in their own transaction; the webhook dispatcher sends them.

A rolled-back change publishes nothing, and a committed one is never lost, because the event is a row
written by the same session as the change.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from sqlalchemy import ColumnElement, ColumnExpressionArgument, CursorResult, String, exists, func, insert, literal, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.clock import clock
from crm_api.core.db import BoundInsert, Write
from crm_api.core.tables import OutboxEvent

# Outbound deliveries (webhooks, notification channels): the wait after the 1st..5th failed attempt; the 6th failure
# makes a delivery dead.
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2), timedelta(hours=12))
MAX_ATTEMPTS = len(BACKOFF) + 1
# A claimed delivery is not due again before this, so a crash mid-send only delays it.
CLAIM_LEASE = timedelta(minutes=10)


def retry_at(attempts: int, now: datetime) -> datetime | None:
    """When a delivery that has failed `attempts` times in all is tried again; None: it is out of attempts."""
    return None if attempts >= MAX_ATTEMPTS else now + BACKOFF[attempts - 1]


def _event(event_type: str, entity_type: str, entity_id: object, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_type": event_type,
        "entity_type": entity_type,
        "entity_id": str(entity_id),
        "payload": to_jsonable_python(payload),
        "occurred_at": clock.now(),
    }


# An event's INSERT, for the table rather than the ORM: an object flushed at commit cost a write more than the row.
_EVENT = BoundInsert(OutboxEvent.__table__, "outbox_")


def written(*, event_type: str, entity_type: str, entity_id: object, payload: dict[str, Any]) -> Write:
    """The INSERT of `event_type` for the entity (values made JSON-ready here), to be written with the change's audit
    event (`audit.record_change(together=…)`)."""
    return _EVENT.write(_event(event_type, entity_type, entity_id, payload) | {"dispatched_at": None})


async def publish(
    session: AsyncSession, *, event_type: str, entity_type: str, entity_id: object, payload: dict[str, Any]
) -> None:
    """Record `event_type` for the entity in the caller's transaction."""
    await session.execute(*written(event_type=event_type, entity_type=entity_type, entity_id=entity_id, payload=payload))


# Fields of a read representation that depend on who reads it: never part of an event.
PER_CALLER = frozenset({"allowed_actions"})


@dataclass(frozen=True)
class EventType:
    """An event of the catalogue: its name, what it means, and the schema class its payload is a dump of."""

    name: str
    description: str
    payload: type[BaseModel]

    @property
    def fields(self) -> set[str]:
        return set(self.payload.model_fields) - PER_CALLER

    def json_schema(self) -> dict[str, Any]:
        """The payload's JSON Schema: the schema class's, without the per-caller fields."""
        schema = self.payload.model_json_schema(mode="serialization")
        schema["properties"] = {k: v for k, v in schema.get("properties", {}).items() if k in self.fields}
        if "required" in schema:
            schema["required"] = [name for name in schema["required"] if name in self.fields]
        return schema

    def written(self, *, entity_type: str, entity_id: object, payload: BaseModel) -> Write:
        """`payload` is an instance of the schema class (or of a subclass: only the class's own fields are sent)."""
        return written(event_type=self.name, entity_type=entity_type, entity_id=entity_id, payload=self._dumped(payload))

    async def publish(self, session: AsyncSession, *, entity_type: str, entity_id: object, payload: BaseModel) -> None:
        await session.execute(*self.written(entity_type=entity_type, entity_id=entity_id, payload=payload))

    async def publish_many(self, session: AsyncSession, *, entity_type: str, payloads: Mapping[Any, BaseModel]) -> None:
        """`publish` for many entities (entity id -> payload) in one INSERT."""
        if payloads:
            events = [_event(self.name, entity_type, key, self._dumped(payload)) for key, payload in payloads.items()]
            await session.execute(insert(OutboxEvent.__table__), events)  # the table: no ORM bulk work per row

    def _dumped(self, payload: BaseModel) -> dict[str, Any]:
        if not isinstance(payload, self.payload):
            raise TypeError(f"{self.name} carries a {self.payload.__name__}, not a {type(payload).__name__}")
        return payload.model_dump(mode="json", include=self.fields)


RecordChange = Literal["created", "updated", "deleted"]
CHANGE_TEXT: dict[RecordChange, str] = {
    "created": "was created; the payload is the record as it reads now",
    "updated": "was changed; the payload is the record as it reads after the change",
    "deleted": "was deleted; the payload is the record as it read when it went",
}


@dataclass(frozen=True)
class RecordEvents:
    """`<name>.created|updated|deleted` of one kind of record, each carrying its read representation.

    Services call `publish` next to their audit call, in the transaction of the change, or pass `written` to it.
    """

    name: str
    read: type[BaseModel]
    noun: str
    # The audit and outbox entity type, when it differs from the event name (`service_ticket`).
    entity_type: str | None = None
    changes: tuple[RecordChange, ...] = ("created", "updated", "deleted")

    def event(self, change: RecordChange) -> EventType:
        if change not in self.changes:
            raise ValueError(f"{self.name} has no {change} event")
        return EventType(f"{self.name}.{change}", f"{self.noun} {CHANGE_TEXT[change]}", self.read)

    def types(self) -> list[EventType]:
        return [self.event(change) for change in self.changes]

    def written(self, change: RecordChange, entity_id: object, payload: BaseModel) -> Write:
        return self.event(change).written(entity_type=self.entity_type or self.name, entity_id=entity_id, payload=payload)

    async def publish(self, session: AsyncSession, change: RecordChange, entity_id: object, payload: BaseModel) -> None:
        await session.execute(*self.written(change, entity_id, payload))

    async def publish_many(self, session: AsyncSession, change: RecordChange, payloads: Mapping[Any, BaseModel]) -> None:
        await self.event(change).publish_many(session, entity_type=self.entity_type or self.name, payloads=payloads)


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
