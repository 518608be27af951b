"""Wake-ups across processes: PostgreSQL LISTEN/NOTIFY on one connection per process, fanned out in-process.

A writer calls `publish` inside its transaction; PostgreSQL delivers the NOTIFY when that transaction commits
and never for a rollback. Each process holds one listening connection (not one per subscriber) and hands every
message to the callbacks subscribed to its channel. After a reconnect every callback is called with None: what
was sent while the connection was down is lost, so subscribers catch up from the database. On SQLite there is no
NOTIFY: subscribers poll.
"""

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger("crm_api.pubsub")

# A caller's access changed (disabled, tokens revoked, roles, grants, team): the payload is the user id, or `*` when
# a change reaches many (a role's grants, an API key).
PRINCIPAL_CHANNEL = "crm_principals"
# The dictionary or a custom field definition changed: the payload is `*`.
REFERENCE_CHANNEL = "crm_reference_data"

# A message, or None after a reconnect (anything may have been missed).
Listener = Callable[[str | None], None]

RECONNECT_SECONDS = (0.5, 1.0, 2.0, 5.0)
# A silent connection is probed this often, so a dead server is noticed without waiting for TCP to give up.
KEEPALIVE_SECONDS = 30.0


async def publish(session: AsyncSession, channel: str, payload: str) -> None:
    """NOTIFY `channel` when the session's transaction commits (PostgreSQL; nothing on SQLite, where listeners poll)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_notify(channel, payload)))


def listen_dsn(database_url: str) -> str | None:
    """The plain asyncpg DSN of a PostgreSQL URL; None for a database without LISTEN."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return None
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class PubSub:
    """The process's listening connection and its in-process subscribers, by channel."""

    def __init__(self, dsn: str | None, *, connect_timeout: float = 5.0) -> None:
        self._dsn = dsn
        self._connect_timeout = connect_timeout
        self._listeners: dict[str, set[Listener]] = defaultdict(set)
        self._connection: asyncpg.Connection | None = None
        self._runner: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    @property
    def live(self) -> bool:
        """Messages arrive as they are sent (PostgreSQL): subscribers need not poll."""
        return self._dsn is not None

    @property
    def listening(self) -> bool:
        """The listening connection is up: a message sent now will arrive."""
        return self._connection is not None and not self._connection.is_closed()

    async def subscribe(self, channel: str, listener: Listener) -> Callable[[], None]:
        """Call `listener` with each message on `channel`; returns the unsubscribe function.

        The first subscriber starts the listening connection; a new channel is LISTENed at once.
        """
        first_of_channel = not self._listeners[channel]
        self._listeners[channel].add(listener)
        if self._dsn is not None:
            if self._runner is None:
                self._runner = asyncio.create_task(self._run(), name="pubsub-listener")
            elif first_of_channel and self._connection is not None and not self._connection.is_closed():
                with contextlib.suppress(asyncpg.PostgresError, OSError):
                    await self._connection.add_listener(channel, self._deliver)

        def unsubscribe() -> None:
            self._listeners[channel].discard(listener)

        return unsubscribe

    def _deliver(self, _connection: Any, _pid: int, channel: str, payload: str | None) -> None:
        for listener in list(self._listeners.get(channel, ())):
            listener(payload)

    def _resync_everyone(self) -> None:
        for channel in list(self._listeners):
            self._deliver(None, 0, channel, None)

    async def _connect(self) -> asyncpg.Connection:
        assert self._dsn is not None
        connection = await asyncpg.connect(self._dsn, timeout=self._connect_timeout)
        for channel in [channel for channel, listeners in self._listeners.items() if listeners]:
            await connection.add_listener(channel, self._deliver)
        return connection

    async def _hold(self, connection: asyncpg.Connection) -> None:
        """Until the connection breaks or the pub/sub stops; probes it when it has been quiet."""
        closed = asyncio.Event()
        connection.add_termination_listener(lambda _connection: closed.set())
        while not self._stopping.is_set() and not closed.is_set():
            waits = [asyncio.ensure_future(closed.wait()), asyncio.ensure_future(self._stopping.wait())]
            _, pending = await asyncio.wait(waits, timeout=KEEPALIVE_SECONDS, return_when=asyncio.FIRST_COMPLETED)
            for waiter in pending:
                waiter.cancel()
            if pending == set(waits):
                await connection.fetchval("SELECT 1", timeout=self._connect_timeout)

    async def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                self._connection = await self._connect()
                failures = 0
                self._resync_everyone()
                await self._hold(self._connection)
            except Exception as exc:  # whatever broke it, the process must keep listening
                log.warning("listening connection lost: %r", exc)
                failures += 1
            finally:
                if self._connection is not None:
                    self._connection.terminate()
                    self._connection = None
            delay = RECONNECT_SECONDS[min(failures, len(RECONNECT_SECONDS)) - 1] if failures else RECONNECT_SECONDS[0]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)

    async def stop(self) -> None:
        self._stopping.set()
        if self._runner is not None:
            await self._runner
            self._runner = None
