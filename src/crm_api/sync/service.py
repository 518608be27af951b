"""A sync: a full snapshot of the caller's records first, then the change log from where the snapshot began.

The token is where the client stands: which kinds it syncs, its place in the change log, and, while the snapshot
is still being paged, the last kind and id sent. Every page sends records as they are now, so a record may come
twice (a change during the snapshot, a change twice in the log); a client just stores the latest.
"""

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core import changes
from crm_api.core.changes import Position
from crm_api.core.errors import InvalidInput
from crm_api.core.permissions import Principal
from crm_api.customers import service as customers
from crm_api.customers.schemas import ContactRead, InteractionRead
from crm_api.opportunities import service as opportunities
from crm_api.sync.exceptions import TokenExpired
from crm_api.sync.policy import ENTITY_TYPES, PERMISSIONS, SNAPSHOT_ORDER, SyncType
from crm_api.sync.repository import SyncRepository
from crm_api.sync.schemas import Changes, SyncPage
from crm_api.tasks import service as tasks

if TYPE_CHECKING:
    from crm_api.models.collaboration import Task
    from crm_api.models.pipeline import Opportunity

# Each kind's read representation of a record's columns (a dict: validating one costs a fraction of a row's
# attributes), for this caller. A customer's row carries its tags; tasks and opportunities list the caller's
# allowed actions, which their rules read as attributes.
READS: dict[SyncType, Callable[[dict[str, Any], Principal], BaseModel]] = {
    SyncType.CUSTOMERS: lambda customer, _: customers.read_of_columns(customer),
    SyncType.CONTACTS: lambda contact, _: ContactRead.model_validate(contact),
    SyncType.INTERACTIONS: lambda interaction, _: InteractionRead.model_validate(interaction),
    SyncType.TASKS: lambda task, principal: tasks.to_read(cast("Task", SimpleNamespace(**task)), principal),
    SyncType.OPPORTUNITIES: lambda opportunity, principal: opportunities.to_read(
        cast("Opportunity", SimpleNamespace(**opportunity)), principal
    ),
}
KINDS_OF_ENTITY = {entity_type: kind for kind, entity_type in ENTITY_TYPES.items()}


@dataclass(frozen=True)
class Token:
    kinds: tuple[SyncType, ...]
    position: Position
    # While the snapshot is paged: the kind, and the key (SNAPSHOT_ORDER) of the last record sent of it; () before
    # the first.
    snapshot: tuple[SyncType, tuple[int, ...]] | None

    def encode(self) -> str:
        snapshot = [self.snapshot[0], *self.snapshot[1]] if self.snapshot else None
        state = {"k": list(self.kinds), "p": list(self.position), "s": snapshot}
        return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, kinds: tuple[SyncType, ...]) -> "Token":
        try:
            state = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            position = Position(*(_count(n) for n in state["p"]))
            snapshot = _snapshot_place(state["s"]) if state["s"] is not None else None
            sent = tuple(SyncType(kind) for kind in state["k"])
            if snapshot is not None and snapshot[0] not in sent:
                raise ValueError("a snapshot of a kind the token does not sync")
        except (ValueError, TypeError, KeyError, IndexError, binascii.Error, RecursionError) as exc:
            raise InvalidInput("since", "The token is not one this API gave", code="sync.invalid_token") from exc
        if sent != kinds:
            raise InvalidInput(
                "types",
                f"The token is for types={','.join(sent)}; another set of types starts from a full sync (no `since`)",
                code="sync.types_changed",
            )
        return cls(kinds, position, snapshot)


def _snapshot_place(state: list[Any]) -> tuple[SyncType, tuple[int, ...]]:
    kind = SyncType(state[0])
    key = tuple(_count(n) for n in state[1:])
    if len(key) > len(SNAPSHOT_ORDER[kind]):
        raise ValueError("a longer key than the kind's order")
    # Shorter: a token from before contacts and interactions went in their customers' order. The kind starts over;
    # a record may come twice, as it may anyway.
    return kind, key if len(key) == len(SNAPSHOT_ORDER[kind]) else ()


def _count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= changes.END:
        raise ValueError("not a position")
    return value


def requested_kinds(principal: Principal, types: str | None) -> tuple[SyncType, ...]:
    """The kinds asked for, in snapshot order; by default every kind the caller may read. One it may not: 403."""
    if types is None:
        return tuple(kind for kind in SyncType if principal.can(PERMISSIONS[kind]))
    names = {name.strip() for name in types.split(",") if name.strip()}
    unknown = sorted(names - set(SyncType))
    if unknown or not names:
        choices = ", ".join(SyncType)
        raise InvalidInput(
            "types", f"Unknown types {', '.join(unknown) or '(none)'}; choose from {choices}", code="sync.unknown_type"
        )
    kinds = tuple(kind for kind in SyncType if kind in names)
    for kind in kinds:
        principal.require(PERMISSIONS[kind])
    return kinds


class _Page:
    """The page being filled: upserts and tombstones per kind, up to `room` records or log rows."""

    def __init__(self, kinds: tuple[SyncType, ...], room: int) -> None:
        self.upserts: dict[SyncType, dict[int, Any]] = {kind: {} for kind in kinds}
        self.deleted: dict[SyncType, set[int]] = {kind: set() for kind in kinds}
        self.room = room

    def upsert(self, kind: SyncType, records: dict[int, Any]) -> None:
        self.upserts[kind].update(records)
        self.deleted[kind].difference_update(records)

    def delete(self, kind: SyncType, ids: set[int]) -> None:
        self.deleted[kind].update(ids)
        for record_id in ids:
            self.upserts[kind].pop(record_id, None)

    def read(self, principal: Principal, token: Token, more: bool) -> SyncPage:
        records: dict[SyncType, list[Any]] = {kind: list(self.upserts[kind].values()) for kind in token.kinds}
        sets: dict[str, Changes[Any]] = {
            kind.value: Changes(
                upserts=[READS[kind](record, principal) for record in records[kind]], deleted=sorted(self.deleted[kind])
            )
            for kind in token.kinds
        }
        return SyncPage.model_validate(sets | {"token": token.encode(), "more": more})


async def sync(session: AsyncSession, principal: Principal, *, types: str | None, since: str | None, limit: int) -> SyncPage:
    """The next page after `since` (none: from a full snapshot) of the kinds in `types`."""
    kinds = requested_kinds(principal, types)
    if since is None:
        token = Token(kinds, await changes.start(session), (kinds[0], ()) if kinds else None)
    else:
        token = Token.decode(since, kinds)
        pruned = await changes.pruned_up_to(session)
        if pruned is not None and token.position < pruned:
            raise TokenExpired("Changes after this token are no longer kept; sync again from scratch (no `since`)")
    page = _Page(kinds, limit)
    repo = SyncRepository(session)
    if token.snapshot is not None:
        token = await _snapshot(repo, principal, token, page)
        if token.snapshot is not None:
            return page.read(principal, token, more=True)
    token, more = await _logged(repo, principal, token, page)
    return page.read(principal, token, more=more)


async def _snapshot(repo: SyncRepository, principal: Principal, token: Token, page: _Page) -> Token:
    """Fill the page with records in scope, kind after kind in each kind's SNAPSHOT_ORDER; the token of where the
    snapshot stopped."""
    assert token.snapshot is not None
    kind, after = token.snapshot
    while True:
        if page.room == 0:
            return Token(token.kinds, token.position, (kind, after))
        records = await repo.records_after(kind, principal, after, page.room + 1)
        full = len(records) > page.room
        records = records[: page.room]
        page.upsert(kind, {record["id"]: record for record in records})
        page.room -= len(records)
        if full:
            last = records[-1]
            return Token(token.kinds, token.position, (kind, tuple(last[name] for name in SNAPSHOT_ORDER[kind])))
        later = token.kinds[token.kinds.index(kind) + 1 :]
        if not later:
            return Token(token.kinds, token.position, None)
        kind, after = later[0], ()


async def _logged(repo: SyncRepository, principal: Principal, token: Token, page: _Page) -> tuple[Token, bool]:
    """Fill the rest of the page from the change log: each record reached, as it is now if the caller sees it, else
    a tombstone. Only rows of finished transactions are read, so the token never passes a change still to commit;
    `more` also says when a committed change waits behind one."""
    if page.room <= 0 or not token.kinds:
        return token, page.room <= 0
    below = await changes.horizon(repo.session)
    rows = await repo.changed(token.kinds, principal, token.position, below, page.room + 1)
    more = len(rows) > page.room or await repo.held_back(token.kinds, principal, token.position, below)
    rows = rows[: page.room]
    if not rows:
        return token, more
    reached: dict[SyncType, set[int]] = {kind: set() for kind in token.kinds}
    for row in rows:
        reached[KINDS_OF_ENTITY[row.entity_type]].add(row.entity_id)
    for kind, ids in reached.items():
        if not ids:
            continue
        current = {record["id"]: record for record in await repo.records(kind, principal, ids)}
        page.upsert(kind, current)
        page.delete(kind, ids - current.keys())
    last = rows[-1]
    return Token(token.kinds, Position(last.xid, last.seq), None), more
