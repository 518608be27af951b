"""State changes as compare-and-set: one conditional UPDATE, and its side effects only if it matched."""

from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core import audit
from crm_api.core.errors import Conflict
from crm_api.core.permissions import Principal
from crm_api.core.references import names_before, reload_names


class VersionedRecord(Protocol):
    id: Any
    version: Any
    status: Any


R = TypeVar("R", bound=VersionedRecord)


async def compare_and_set(session: AsyncSession, entity: R, *, entity_type: str, changes: Mapping[str, Any]) -> R:
    """`UPDATE … SET changes, version = version + 1 WHERE id = :id AND version = :read RETURNING …`.

    The caller has checked its rules against the state it read; the version pins that state, so
    of N concurrent transitions exactly one matches and holds the row until it commits. The
    others get 409 naming the state the winner left, before they write anything.
    """
    model = type(entity)
    names = names_before(entity)
    statement = (
        update(model)
        .where(model.id == entity.id, model.version == entity.version)
        .values(**changes)
        .returning(model)
        .execution_options(populate_existing=True, synchronize_session=False)
    )
    moved = (await session.execute(statement)).scalar_one_or_none()
    if moved is None:
        # A fresh statement: under READ COMMITTED it sees what the winner committed.
        current = (await session.execute(select(model.status, model.version).where(model.id == entity.id))).one_or_none()
        status = str(current.status) if current is not None else "deleted"
        raise Conflict(
            f"The {entity_type.replace('_', ' ')} was changed by someone else; it is now {status}",
            code=f"{entity_type}.changed",
            current_status=status,
            current_version=current.version if current is not None else None,
        )
    await reload_names(session, moved, names, set(changes))
    return moved


async def transition(
    session: AsyncSession,
    entity: R,
    *,
    actor: Principal | None,
    entity_type: str,
    action: str,
    changes: Mapping[str, Any],
) -> R:
    """`compare_and_set`, then the audit event of the move with the state before and after."""
    before = audit.snapshot(entity)
    moved = await compare_and_set(session, entity, entity_type=entity_type, changes=changes)
    await audit.record_change(session, actor=actor, entity_type=entity_type, entity=moved, action=action, before=before)
    return moved
