"""What each process keeps of rows read on every request and rarely changed, and how it forgets them.

A cache serves one channel of one database. A change announces itself in the transaction that makes it (`announce`,
or a write of a table declared `forgotten_on_write`): when that commits the writer's process forgets at once, and every
other process when the NOTIFY on the channel reaches it. Where no NOTIFY arrives (SQLite, or PostgreSQL while the
listening connection is down) an entry is trusted for `trusted_seconds` only. A session that announced a change reads
around the cache until it commits: the cache does not hold what it wrote yet.
"""

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from itertools import chain
from typing import Any, TypeVar

from sqlalchemy import event, func, inspect, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session

from crm_api.core import pubsub
from crm_api.core.config import Settings
from crm_api.core.pubsub import REFERENCE_CHANNEL, PubSub

# Forget every entry of the channel.
EVERYTHING = "*"

# A session's announced changes, (channel, change), applied to its process's caches when the transaction commits.
_CHANGED = "crm.cache_changes"


@dataclass
class _Entry:
    value: Any
    stored_at: float


class ProcessCache:
    """Values by key, least recently used evicted past `size`. A lookup that started before a change was forgotten is
    not stored: it may have read the rows as they were."""

    def __init__(self, channel: str, *, size: int, trusted_seconds: float) -> None:
        self.channel = channel
        self._size = size
        self._trusted_seconds = trusted_seconds
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._feeds: list[PubSub] = []
        # Moves on every change forgotten: a lookup stores its result only if it did not move meanwhile.
        self.epoch = 0

    def __len__(self) -> int:
        return len(self._entries)

    def _told_of_changes(self) -> bool:
        return any(feed.listening for feed in self._feeds)

    def get(self, key: str) -> Any:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if not self._told_of_changes() and time.monotonic() - entry.stored_at > self._trusted_seconds:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry.value

    def put(self, key: str, value: Any, *, epoch: int) -> None:
        if epoch != self.epoch:
            return
        self._entries[key] = _Entry(value, time.monotonic())
        self._entries.move_to_end(key)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def forget(self, change: str | None) -> None:
        """One key, or everything (`*`, or None: the listening connection came back and may have missed some)."""
        self.epoch += 1
        if change is None or change == EVERYTHING:
            self._entries.clear()
        else:
            self._entries.pop(change, None)

    async def listen(self, feed: PubSub) -> None:
        """Forget what `feed` announces on the channel (once per feed)."""
        if feed not in self._feeds:
            self._feeds.append(feed)
            await feed.subscribe(self.channel, self.forget)


# One cache per process, database and channel: every app of a process on one database (tests run several) sees the
# same rows.
_caches: dict[tuple[URL, str], ProcessCache] = {}


def process_cache(database_url: str | URL, channel: str, *, size: int, trusted_seconds: float) -> ProcessCache:
    """The process's cache of the channel on this database, made on first use."""
    key = (make_url(database_url), channel)
    cache = _caches.get(key)
    if cache is None:
        cache = _caches[key] = ProcessCache(channel, size=size, trusted_seconds=trusted_seconds)
    return cache


# The reference data cache holds the dictionary and one entry per entity with custom fields.
REFERENCE_ENTRIES = 16


def reference_cache(settings: Settings) -> ProcessCache:
    """The process's reference data on this database: the dictionary and each entity's custom field definitions,
    which every write checks against."""
    return process_cache(
        settings.database_url, REFERENCE_CHANNEL, size=REFERENCE_ENTRIES, trusted_seconds=settings.reference_cache_seconds
    )


def _cache_for(session: AsyncSession | Session, channel: str) -> ProcessCache | None:
    """The cache the session may read on the channel: none if the app made none, or while the session holds an
    announced change of it."""
    if any(announced == channel for announced, _ in session.info.get(_CHANGED, ())):
        return None
    return _caches.get((session.get_bind().engine.url, channel))


T = TypeVar("T")


async def cached(session: AsyncSession, channel: str, key: str, read: Callable[[], Awaitable[T]]) -> T:
    """The value of `key` from the process's cache of the channel, or `read` (and kept, unless a change was forgotten
    meanwhile)."""
    cache = _cache_for(session, channel)
    if cache is None:
        return await read()
    value: T | None = cache.get(key)
    if value is None:
        epoch = cache.epoch
        value = await read()
        cache.put(key, value, epoch=epoch)
    return value


def _noted(session: AsyncSession | Session, channel: str, change: str) -> bool:
    """Note the change in the session, for its commit; False if it was noted already (and so announced)."""
    changes: set[tuple[str, str]] = session.info.setdefault(_CHANGED, set())
    if (channel, change) in changes:
        return False
    changes.add((channel, change))
    return True


async def announce(session: AsyncSession, channel: str, change: str = EVERYTHING) -> None:
    """This transaction changes what the channel's caches hold (a key, or everything): every process forgets it when
    the transaction commits."""
    if _noted(session, channel, change):
        await pubsub.publish(session, channel, change)


def _announce_written(session: Session, channel: str) -> None:
    """announce from inside a flush or an execution, where nothing may be awaited."""
    if _noted(session, channel, EVERYTHING) and session.get_bind().dialect.name == "postgresql":
        session.connection().execute(select(func.pg_notify(channel, EVERYTHING)))


# The table info naming the channel a write of the table announces.
_CHANNEL_INFO = "crm.cache_channel"


def forgotten_on_write(channel: str) -> dict[str, Any]:
    """A model's table arguments: every write of its table through a session (objects flushed, or a DML statement)
    announces a change of everything on the channel. Declared on the table, so every process writing it announces."""
    return {"info": {_CHANNEL_INFO: channel}}


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _context: object) -> None:
    for instance in chain(session.new, session.dirty, session.deleted):
        channel = inspect(instance).mapper.local_table.info.get(_CHANNEL_INFO)
        if channel is not None:
            _announce_written(session, channel)


@event.listens_for(Session, "do_orm_execute")
def _executed(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        channel = table.info.get(_CHANNEL_INFO) if table is not None else None
        if channel is not None:
            _announce_written(state.session, channel)


@event.listens_for(Session, "after_commit")
def _forget_committed(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint: the changes count when the transaction does
    changes = session.info.pop(_CHANGED, ())
    if changes:
        url = session.get_bind().engine.url
        for channel, change in changes:
            cache = _caches.get((url, channel))
            if cache is not None:
                cache.forget(change)


@event.listens_for(Session, "after_rollback")
def _drop_rolled_back(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info.pop(_CHANGED, None)
