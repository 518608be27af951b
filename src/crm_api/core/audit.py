"""Audit events, written in the transaction of the change they describe."""

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from sqlalchemy import insert, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper

from crm_api.core import changes
from crm_api.core.clock import clock
from crm_api.core.context import client_ip_var, request_id_var
from crm_api.core.db import BoundInsert, Write
from crm_api.core.permissions import Principal
from crm_api.core.references import NAME_OF
from crm_api.core.tables import AuditEvent

# Never copied into the audit trail: secrets, the optimistic-locking counter every change bumps, and the digest of an
# offline create's body.
LEFT_OUT = frozenset({"password_hash", "key_hash", "token_hash", "secret", "version", "client_digest"})

Snapshot = dict[str, Any]
# What an entity's events record of it: `snapshot`, or a domain's snapshot with its collections added.
View = Callable[[Any], Snapshot]


# Types JSON takes as they are, most of a snapshot's values: they skip the checks below (an import's chunk takes tens
# of thousands of them).
_AS_IS = frozenset({str, int, bool, float, dict, type(None)})


def _plain(value: Any) -> Any:
    if type(value) in _AS_IS:
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def snapshot(entity: object) -> Snapshot:
    """Column values of an ORM object, JSON-ready, secrets and the names of its references (core.references) left out."""
    loaded = entity.__dict__  # a loaded column's value, without the attribute's descriptor; others load as usual
    return {key: _plain(loaded[key] if key in loaded else getattr(entity, key)) for key in _snapshot_keys(type(entity))}


def columns_of(model: type[Any], row: Mapping[str, Any]) -> Snapshot:
    """`snapshot` of a record written without the ORM, from its columns as the write returned them."""
    return {key: _plain(row[key]) for key in _snapshot_keys(model)}


# Model -> the columns its snapshot holds.
_SNAPSHOT_KEYS: dict[type[Any], tuple[str, ...]] = {}


def _snapshot_keys(model: type[Any]) -> tuple[str, ...]:
    keys = _SNAPSHOT_KEYS.get(model)
    if keys is None:
        mapper: Mapper[Any] = inspect(model)
        attributes = mapper.column_attrs
        keys = tuple(column.key for column in attributes if column.key not in LEFT_OUT and NAME_OF not in column.info)
        _SNAPSHOT_KEYS[model] = keys
    return keys


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    if before is None and after is not None:  # a creation: every value it has
        return {key: {"before": None, "after": value} for key in sorted(after) if (value := _plain(after[key])) is not None}
    before, after = before or {}, after or {}
    changes = {}
    for key in sorted(before.keys() | after.keys()):
        old, new = _plain(before.get(key)), _plain(after.get(key))
        if old != new:
            changes[key] = {"before": old, "after": new}
    return changes


# An event's INSERT: a change's event is written in its change log's statement (core.changes.log_change), and every
# other event the same way.
_EVENT = BoundInsert(AuditEvent.__table__, "event_")


def _event(
    *,
    actor: Principal | None,
    entity_type: str,
    entity_id: object,
    action: str,
    before: Snapshot | None = None,
    after: Snapshot | None = None,
) -> dict[str, Any]:
    return {
        "actor_id": actor.user_id if actor else None,
        "actor_label": actor.label if actor else "system",
        "entity_type": entity_type,
        "entity_id": str(entity_id),
        "action": action,
        "changes": diff(before, after),
        "request_id": request_id_var.get(),
        "client_ip": client_ip_var.get(),
    }


def _written(
    *,
    actor: Principal | None,
    entity_type: str,
    entity_id: object,
    action: str,
    before: Snapshot | None = None,
    after: Snapshot | None = None,
) -> Write:
    """An event's INSERT, for the functions below: domains record through those, which take entities or a batch."""
    event = _event(actor=actor, entity_type=entity_type, entity_id=entity_id, action=action, before=before, after=after)
    return _EVENT.write(event | {"occurred_at": clock.now()})


async def record_change(
    session: AsyncSession,
    *,
    actor: Principal | None,
    entity_type: str,
    entity: Any,
    action: str,
    before: Snapshot | None,
    view: View | None = snapshot,
    together: Sequence[Write] = (),
) -> None:
    """Flush the change, then record it with the entity as it now is (`before=None`: it is new; `view=None`: it is
    gone), and log it for the mobile clients that sync it. `before` is `view(entity)` taken before the change.
    `together`: other rows of the change (its outbox event), written in the same round trip."""
    await session.flush()
    after = view(entity) if view is not None else None
    event = _written(actor=actor, entity_type=entity_type, entity_id=entity.id, action=action, before=before, after=after)
    await changes.log_change(session, entity, before, beside=(event, *together))


async def record_creations(
    session: AsyncSession, *, actor: Principal | None, entity_type: str, model: type[Any], created: Mapping[Any, Snapshot]
) -> None:
    """record_change(action="create") of many new records of `model` written together (an import's chunk), in one
    INSERT: record id -> its view (`columns_of` the row the write returned, and what the domain adds)."""
    if not created:
        return
    now = clock.now()
    events = [
        _event(actor=actor, entity_type=entity_type, entity_id=entity_id, action="create", after=after) | {"occurred_at": now}
        for entity_id, after in created.items()
    ]
    await session.execute(insert(AuditEvent.__table__), events)  # the table: no ORM bulk work per row
    await changes.log_created(session, model, list(created))


async def delete_recorded(
    session: AsyncSession, *, actor: Principal | None, entity_type: str, entity: Any, view: View = snapshot
) -> None:
    """Delete the entity and record what it was."""
    before = view(entity)
    await session.delete(entity)
    await record_change(session, actor=actor, entity_type=entity_type, entity=entity, action="delete", before=before, view=None)


async def record_merge(
    session: AsyncSession,
    *,
    actor: Principal | None,
    entity_type: str,
    survivor: Any,
    loser: Any,
    before: tuple[Snapshot, Snapshot],
    view: View,
    moved: dict[str, int],
) -> None:
    """One event on each side of a merge, naming the other side and the records that moved (table → count)."""

    async def side(entity: Any, entity_before: Snapshot, other: Snapshot) -> None:
        await record_change(
            session,
            actor=actor,
            entity_type=entity_type,
            entity=entity,
            action="merge",
            before=entity_before,
            view=lambda e: view(e) | other | {"moved": moved},
        )

    await side(survivor, before[0], {"merged_from": loser.id})
    await side(loser, before[1], {"merged_into": survivor.id})
    # The loser's records (its contacts, interactions) now sit under the survivor, in its owner's scope.
    await changes.log_children(session, survivor, changes.owners_of(survivor) | changes.owners_of(loser))


async def record_erasure(session: AsyncSession, *, actor: Principal | None, entity_type: str, entity: Any, reason: str) -> None:
    """The entity's personal data was erased: when and why, never what it was."""
    await record_change(
        session,
        actor=actor,
        entity_type=entity_type,
        entity=entity,
        action="erase",
        before={"erased_at": None},
        view=lambda e: {"erased_at": e.erased_at, "reason": reason},
    )


async def record_switch(
    session: AsyncSession, *, actor: Principal | None, entity_type: str, entity: Any, action: str, switch: str, on: bool
) -> None:
    """A setting of the entity kept outside its own columns (a second factor) turned on or off: only that it did."""
    await record_change(
        session,
        actor=actor,
        entity_type=entity_type,
        entity=entity,
        action=action,
        before={switch: not on},
        view=lambda _: {switch: on},
    )


async def record_follow_up(
    session: AsyncSession, *, actor: Principal | None, entity_type: str, entity: Any, action: str, made_type: str, made: Any
) -> None:
    """An action that left the entity as it was but made another record (a test delivery): which one, once it has an id."""
    await session.flush()
    made_id = {f"{made_type}_id": made.id}
    await record_change(
        session, actor=actor, entity_type=entity_type, entity=entity, action=action, before=None, view=lambda _: made_id
    )


async def record_batch(
    session: AsyncSession, *, actor: Principal | None, batch_type: str, batch_id: object, action: str, summary: Snapshot
) -> None:
    """A write of many rows that is no one entity's change (a sync, an import): one event with what it did."""
    await session.execute(*_written(actor=actor, entity_type=batch_type, entity_id=batch_id, action=action, after=summary))


async def record_replacement(
    session: AsyncSession,
    *,
    actor: Principal | None,
    set_type: str,
    key: str,
    before: list[Snapshot],
    after: list[Any],
    view: View = snapshot,
) -> None:
    """A whole set of records replaced at once (a rule set): flush, then one event with the set as it was and as it
    now is, under `key`. `before` is `view(entity)` of each old record, taken before the change."""
    await session.flush()
    after_set = {key: [view(entity) for entity in after]}
    event = _written(actor=actor, entity_type=set_type, entity_id="all", action="replace", before={key: before}, after=after_set)
    await session.execute(*event)
