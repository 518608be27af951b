"""Audit events, written in the transaction of the change they describe."""

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.context import client_ip_var, request_id_var
from crm_api.core.permissions import Principal
from crm_api.models.platform import AuditEvent

# Never copied into the audit trail: secrets, and the optimistic-locking counter every change bumps.
LEFT_OUT = frozenset({"password_hash", "key_hash", "token_hash", "secret", "version"})


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def snapshot(entity: object) -> dict[str, Any]:
    """Column values of an ORM object, JSON-ready, secrets left out."""
    mapper = inspect(type(entity))
    return {column.key: _plain(getattr(entity, column.key)) for column in mapper.column_attrs if column.key not in LEFT_OUT}


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    before, after = before or {}, after or {}
    changes = {}
    for key in sorted(before.keys() | after.keys()):
        old, new = _plain(before.get(key)), _plain(after.get(key))
        if old != new:
            changes[key] = {"before": old, "after": new}
    return changes


async def record(
    session: AsyncSession,
    *,
    actor: Principal | None,
    entity_type: str,
    entity_id: object,
    action: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(
        actor_id=actor.user_id if actor else None,
        actor_label=actor.label if actor else "system",
        entity_type=entity_type,
        entity_id=str(entity_id),
        action=action,
        changes=diff(before, after),
        request_id=request_id_var.get(),
        client_ip=client_ip_var.get(),
    )
    session.add(event)
    return event


async def record_change(
    session: AsyncSession,
    *,
    actor: Principal | None,
    entity_type: str,
    entity: Any,
    action: str,
    before: dict[str, Any] | None,
    view: Callable[[Any], dict[str, Any]] | None = snapshot,
) -> None:
    """Flush the change, then record it with the entity as it now is (`view=None`: it is gone)."""
    await session.flush()
    await record(
        session,
        actor=actor,
        entity_type=entity_type,
        entity_id=entity.id,
        action=action,
        before=before,
        after=view(entity) if view is not None else None,
    )


async def delete_recorded(session: AsyncSession, *, actor: Principal | None, entity_type: str, entity: Any) -> None:
    """Delete the entity and record what it was."""
    before = snapshot(entity)
    await session.delete(entity)
    await record_change(session, actor=actor, entity_type=entity_type, entity=entity, action="delete", before=before, view=None)
