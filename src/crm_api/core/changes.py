"""The change log mobile clients sync from (SPEC §3.16): which records changed, and whose scope each change reached.

A model opts in by naming, in its table's `info["synced"]`, how its records reach a user's scope: through columns
naming users (a customer's owner, a task's assignee and creator), or through a parent record (a contact is in its
customer's scope). core.audit logs every recorded change of such a record here, in the transaction of the change,
with a row for each user in whose scope the record was before or is after it; so a record that leaves a scope
reaches its old owner as a change too, and the reader answers it with a tombstone.

Readers page in (xid, seq) order and stop below `horizon()`: on PostgreSQL sequence numbers are drawn before
commit, so a later number may commit first, but every transaction below the oldest one still running is finished,
and its rows are all visible at once. SQLite serialises writers, so its rows commit in sequence order.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Insert,
    String,
    Table,
    bindparam,
    delete,
    insert,
    literal,
    literal_column,
    select,
    text,
    tuple_,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.clock import clock
from crm_api.core.db import Write, write_together
from crm_api.core.orm import Base
from crm_api.core.tables import ChangeLog, ChangeLogPruned

# Above any sequence number or transaction id.
END = 2**63 - 1


@dataclass(frozen=True)
class Synced:
    """How a table's records reach a user's scope: `owners`, columns naming users, or `parent`, a foreign key column
    whose record's scope they share (a contact's `customer_id`). `live` names a soft-delete column: a record
    deleted or restored leaves or enters its owners' scope together with its children."""

    entity_type: str
    owners: tuple[str, ...] = ()
    parent: str | None = None
    live: str | None = None

    def table_info(self) -> dict[str, Any]:
        """The table argument that declares it: `__table_args__ = (…, Synced(…).table_info())`."""
        return {"info": {"synced": self}}


class Position(NamedTuple):
    """A place in the log: the rows after it are those with a greater (xid, seq)."""

    xid: int
    seq: int

    def after(self) -> ColumnElement[bool]:
        return tuple_(ChangeLog.xid, ChangeLog.seq) > tuple_(literal(self.xid, BigInteger), literal(self.seq, BigInteger))


def _synced(table: Table) -> Synced | None:
    synced: Synced | None = table.info.get("synced")
    return synced


def _xid(dialect: str) -> ColumnElement[int]:
    if dialect == "postgresql":
        return literal_column("pg_current_xact_id()::text::bigint", BigInteger)
    return literal(0, BigInteger)


@cache
def _parent_table(table: Table, column: str) -> Table:
    (foreign_key,) = table.c[column].foreign_keys
    parent: Table = foreign_key.column.table
    return parent


@cache
def _children(parent: Table) -> tuple[tuple[Table, Synced], ...]:
    """The synced tables whose records share this table's records' scope."""
    found = []
    for table in Base.metadata.tables.values():
        synced = _synced(table)
        if synced is not None and synced.parent is not None and _parent_table(table, synced.parent) is parent:
            found.append((table, synced))
    return tuple(found)


COLUMNS = ["xid", "entity_type", "entity_id", "owner_id", "occurred_at"]


def _row(session: AsyncSession, entity_type: str, entity_id: Any, owner_id: Any) -> list[ColumnElement[Any]]:
    """A log row's values in COLUMNS order, as SQL expressions (ids may be columns of an INSERT … SELECT)."""

    def value(v: Any) -> ColumnElement[Any]:
        return v if isinstance(v, ColumnElement) else literal(v, BigInteger)

    return [
        _xid(session.get_bind().dialect.name),
        literal(entity_type, String),
        value(entity_id),
        value(owner_id),
        literal(clock.now(), ChangeLog.occurred_at.type),
    ]


async def _insert_selected(session: AsyncSession, row: list[ColumnElement[Any]], where: ColumnElement[bool]) -> None:
    await session.execute(insert(ChangeLog).from_select(COLUMNS, select(*row).where(where)))


LOGGED_ID, PARENT_ID, LOGGED_AT = "logged_id", "parent_id", "logged_at"


def _owner(n: int) -> str:
    return f"logged_owner_{n}"


@cache
def _by_owners(dialect: str, synced: Synced, owners: int) -> tuple[Insert]:
    """`log_change`'s statement for a record synced by its owner columns, a row for each of `owners` users, run with
    LOGGED_ID, LOGGED_AT and `_owner(n)`: built once per table and count, as `_through_parent`'s are."""
    logged = (
        _xid(dialect),
        literal(synced.entity_type, String),
        bindparam(LOGGED_ID, type_=BigInteger),
        bindparam(LOGGED_AT, type_=ChangeLog.occurred_at.type),
    )
    # INSERT … SELECT, not a multi-row VALUES: SQLAlchemy compiles that anew on every run (it has no cache key).
    rows = [select(*logged[:3], bindparam(_owner(n), type_=BigInteger), logged[3]) for n in range(owners)]
    return (insert(ChangeLog.__table__).from_select(COLUMNS, rows[0] if owners == 1 else union_all(*rows)),)


@cache
def _through_parent(dialect: str, table: Table, synced: Synced) -> tuple[Insert, ...]:
    """`log_change`'s statements for a record synced through its parent, as the parent is now: an INSERT … SELECT per
    owner column of the parent, run with LOGGED_ID, PARENT_ID and LOGGED_AT. Built once per table, as building and
    keying them cost a new contact or interaction a tenth of its instructions."""
    assert synced.parent is not None
    parent = _parent_table(table, synced.parent)
    parent_synced = _synced(parent)
    assert parent_synced is not None, f"{table.name}.{synced.parent} points at {parent.name}, which is not synced"
    logged = (
        _xid(dialect),
        literal(synced.entity_type, String),
        bindparam(LOGGED_ID, type_=BigInteger),
        bindparam(LOGGED_AT, type_=ChangeLog.occurred_at.type),
    )
    return tuple(
        insert(ChangeLog.__table__).from_select(  # the table: run with values, an entity's INSERT would be a bulk one
            COLUMNS, select(*logged[:3], parent.c[owner], logged[3]).where(parent.c.id == bindparam(PARENT_ID))
        )
        for owner in parent_synced.owners
    )


def owners_of(entity: Any) -> set[int | None]:
    """The users in whose scope a record synced by owner columns is now (none for other records)."""
    synced = _synced(type(entity).__table__)
    return {getattr(entity, column) for column in synced.owners} if synced is not None else set()


async def log_children(session: AsyncSession, parent: Any, owners: Iterable[int | None]) -> None:
    """Every child record of `parent` (its contacts, interactions) changed scope with it: a row per child and owner."""
    for table, synced in _children(type(parent).__table__):
        assert synced.parent is not None
        for owner in set(owners):
            row = _row(session, synced.entity_type, table.c.id, owner)
            await _insert_selected(session, row, table.c[synced.parent] == parent.id)


def _scope_moved(synced: Synced, entity: Any, before: dict[str, Any] | None, was: set[Any], now: set[Any]) -> bool:
    """Whether the change took the record out of a scope or into one (a new owner, a delete or a restore)."""
    if before is None:
        return False
    if was and was != now:
        return True
    live = synced.live
    return live is not None and live in before and (before[live] is None) != (getattr(entity, live) is None)


async def log_change(
    session: AsyncSession,
    entity: Any,
    before: dict[str, Any] | None,
    *,
    beside: Sequence[Write] = (),
) -> None:
    """Log a flushed change of `entity` (`before`: its audit view before the change, or None when new), if its
    table is synced. `beside`, other INSERTs returning nothing (the change's audit event, its outbox event), are
    written with the log's rows: one round trip on PostgreSQL (`write_together`)."""
    table: Table = type(entity).__table__
    synced = _synced(table)
    dialect = session.get_bind().dialect.name
    statements: tuple[Insert, ...] = ()
    parameters: dict[str, Any] = {}
    moved: set[Any] | None = None
    if synced is not None:
        parameters = {LOGGED_ID: entity.id, LOGGED_AT: clock.now()}
        if synced.parent is not None:
            statements = _through_parent(dialect, table, synced)
            parameters[PARENT_ID] = getattr(entity, synced.parent)
        else:
            now = owners_of(entity)
            was = {before[column] for column in synced.owners if column in before} if before else set()
            owners = sorted(now | was, key=lambda owner: owner or 0)
            statements = _by_owners(dialect, synced, len(owners))
            parameters |= {_owner(n): owner for n, owner in enumerate(owners)}
            moved = now | was if _scope_moved(synced, entity, before, was, now) else None
    for statement, values in beside:
        statements, parameters = (*statements, statement), parameters | dict(values)
    if statements:
        await write_together(session, statements, parameters)
    if moved is not None:
        await log_children(session, entity, moved)


async def log_selected(session: AsyncSession, model: type[Base], where: ColumnElement[bool]) -> None:
    """Log the records of a set-based write (an import, a job's INSERT … SELECT), matched by `where`."""
    table = model.__table__
    synced = _synced(table)
    assert synced is not None and synced.parent is None, f"{table.name} is not synced by owner columns"
    for owner in synced.owners:
        await _insert_selected(session, _row(session, synced.entity_type, table.c.id, table.c[owner]), where)


async def log_created(session: AsyncSession, model: type[Base], ids: Sequence[Any]) -> None:
    """Log new records of one model written together (an import's chunk), set-based: a model synced by owner columns
    (or not synced)."""
    if ids and _synced(model.__table__) is not None:
        await log_selected(session, model, model.__table__.c.id.in_(ids))


# The oldest transaction of this snapshot still running that may write the log: a client's, in this database (xids
# are the cluster's: a transaction held open in another database, or autovacuum's ANALYZE here, must not hold back
# this database's readers); with none, the snapshot's next xid. A running transaction whose backend
# pg_stat_activity does not show (it ended since, or is hidden from this role) counts.
_HORIZON = text(
    """
    WITH snapshot AS (SELECT pg_current_snapshot() AS s),
    running AS (SELECT x, x::text::bigint % 4294967296 AS xid32 FROM snapshot, pg_snapshot_xip(s) AS x)
    SELECT least(
        (SELECT pg_snapshot_xmax(s)::text::bigint FROM snapshot),
        (SELECT min(x::text::bigint) FROM running
         WHERE NOT EXISTS (SELECT FROM pg_stat_activity AS a WHERE a.backend_xid::text::bigint = running.xid32)
            OR EXISTS (
                SELECT FROM pg_stat_activity AS a
                WHERE a.backend_xid::text::bigint = running.xid32
                  AND a.datname = current_database() AND a.backend_type = 'client backend'
            ))
    )
    """
)


async def horizon(session: AsyncSession) -> int:
    """Every transaction of this database with a smaller id has finished: its log rows are all visible now or never
    will be."""
    if session.get_bind().dialect.name != "postgresql":
        return END
    return int(await session.scalar(_HORIZON) or 0)


async def start(session: AsyncSession) -> Position:
    """Where a reader that reads the records themselves now goes on from: every change not yet visible to it
    lies after this position."""
    if session.get_bind().dialect.name == "postgresql":
        return Position(await horizon(session) - 1, END)
    last = await session.scalar(select(ChangeLog.seq).order_by(ChangeLog.seq.desc()).limit(1))
    return Position(0, last or 0)


# The one row of change_log_pruned.
PRUNED_ROW = 1


async def pruned_up_to(session: AsyncSession) -> Position | None:
    """The last position the log no longer holds: a reader standing before it may have missed changes."""
    row = (await session.execute(select(ChangeLogPruned.xid, ChangeLogPruned.seq))).one_or_none()
    return Position(row.xid, row.seq) if row is not None else None


async def prune(session: AsyncSession, *, before: datetime) -> int:
    """Remove the log up to its last finished row logged before `before`, and remember where it now starts.
    How many rows went."""
    last = await session.execute(
        select(ChangeLog.xid, ChangeLog.seq)
        .where(ChangeLog.occurred_at < before, ChangeLog.xid < await horizon(session))
        .order_by(ChangeLog.xid.desc(), ChangeLog.seq.desc())
        .limit(1)
    )
    row = last.one_or_none()
    if row is None:
        return 0
    up_to = Position(row.xid, row.seq)
    removed = await session.execute(delete(ChangeLog).where(~up_to.after()))
    marker = await session.get(ChangeLogPruned, PRUNED_ROW, with_for_update=True)
    if marker is None:
        session.add(ChangeLogPruned(id=PRUNED_ROW, xid=up_to.xid, seq=up_to.seq, pruned_at=clock.now()))
    elif Position(marker.xid, marker.seq) < up_to:
        marker.xid, marker.seq, marker.pruned_at = up_to.xid, up_to.seq, clock.now()
    return int(getattr(removed, "rowcount", 0) or 0)
