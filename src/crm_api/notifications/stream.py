"""Push: a stream per signed-in client, woken by the process's one pub/sub subscription, reading what it has not sent.

A stream holds no database connection while it waits: each wake-up reads the user's notifications past the last
one sent in a short transaction of its own. PostgreSQL wakes it through NOTIFY (core.pubsub) whichever process
committed the notification; on SQLite it polls. Before reading it checks its caller again when woken by a change of
access, when its wait timed out, and at the token's expiry: a disabled user, a revoked or expired token ends it.
"""

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sse_starlette import ServerSentEvent

from crm_api.core.auth import Authenticate
from crm_api.core.clock import clock
from crm_api.core.config import Settings
from crm_api.core.db import Database
from crm_api.core.errors import Unauthorized
from crm_api.core.pubsub import PRINCIPAL_CHANNEL, PubSub
from crm_api.core.security import access_token_expiry
from crm_api.notifications.policy import EVERYONE, STREAM_CHANNEL
from crm_api.notifications.repository import NotificationRepository
from crm_api.notifications.schemas import NotificationRead

# Notifications read per query: a stream resuming far behind sends its backlog in batches.
BATCH = 100
# The comment line an idle stream sends every CRM_NOTIFICATION_HEARTBEAT_SECONDS, so proxies keep it open.
HEARTBEAT = ServerSentEvent(comment="ping")
# Never spin: a token a few milliseconds from its expiry is looked at again after this.
MIN_WAIT_SECONDS = 0.05


@dataclass(eq=False)
class Waiter:
    """One stream's wake-up: set for a new notification, `recheck` too when its user's access changed."""

    event: asyncio.Event = field(default_factory=asyncio.Event)
    recheck: bool = False

    def wake(self, *, recheck: bool = False) -> None:
        self.recheck = self.recheck or recheck
        self.event.set()


class StreamHub:
    """The streams of this process by user, subscribed once to the notification and principal channels."""

    def __init__(self, pubsub: PubSub) -> None:
        self.pubsub = pubsub
        self._waiters: dict[int, set[Waiter]] = defaultdict(set)
        self._subscribed = False

    @property
    def streams(self) -> int:
        return sum(len(waiters) for waiters in self._waiters.values())

    async def attach(self, user_id: int) -> Waiter:
        if not self._subscribed:
            self._subscribed = True
            await self.pubsub.subscribe(STREAM_CHANNEL, self._on_notifications)
            await self.pubsub.subscribe(PRINCIPAL_CHANNEL, self._on_principal)
        waiter = Waiter()
        self._waiters[user_id].add(waiter)
        return waiter

    def detach(self, user_id: int, waiter: Waiter) -> None:
        waiters = self._waiters.get(user_id)
        if waiters is not None:
            waiters.discard(waiter)
            if not waiters:
                del self._waiters[user_id]

    def _wake(self, user_ids: list[int] | None, *, recheck: bool = False) -> None:
        groups = self._waiters.values() if user_ids is None else [self._waiters.get(u, set()) for u in user_ids]
        for waiters in list(groups):
            for waiter in list(waiters):
                waiter.wake(recheck=recheck)

    def _on_notifications(self, payload: str | None) -> None:
        if payload is None or payload == EVERYONE:
            self._wake(None, recheck=payload is None)
        else:
            self._wake([int(part) for part in payload.split(",") if part.isdigit()])

    def _on_principal(self, payload: str | None) -> None:
        self._wake(None if payload is None or not payload.isdigit() else [int(payload)], recheck=True)


@dataclass(frozen=True)
class StreamContext:
    database: Database
    settings: Settings
    authenticate: Authenticate
    hub: StreamHub


async def _still_allowed(context: StreamContext, token: str) -> bool:
    """The same check as a request's: the user is active and the token neither expired nor revoked."""
    try:
        async with context.database.reader() as session:
            await context.authenticate(session, context.settings, token=token, api_key=None)
    except Unauthorized:
        return False
    return True


def _wait_seconds(context: StreamContext, expires_at: datetime) -> float:
    """Until the next look without a wake-up: the poll (SQLite) or the recheck (PostgreSQL), at most to the expiry."""
    settings = context.settings
    interval = settings.notification_recheck_seconds if context.hub.pubsub.live else settings.notification_poll_seconds
    return max(MIN_WAIT_SECONDS, min(interval, (expires_at - clock.now()).total_seconds()))


async def starting_point(session: AsyncSession, user_id: int, last_event_id: int | None) -> int:
    """The id a stream sends notifications after: the client's Last-Event-ID, else the user's latest (from now on).
    Read before the response starts, so whatever is committed once the client sees the stream open is sent."""
    if last_event_id is not None:
        return last_event_id
    return await NotificationRepository(session).latest_id(user_id)


async def notifications_of(context: StreamContext, *, user_id: int, token: str, after_id: int) -> AsyncIterator[ServerSentEvent]:
    """The user's notifications after `after_id` as `notification` events, until their access ends."""
    expires_at = access_token_expiry(context.settings, token)
    if expires_at is None:
        return
    waiter = await context.hub.attach(user_id)
    last_id = after_id
    # Heartbeats come from this wait rather than sse-starlette's ping task: one task fewer per idle stream.
    loop = asyncio.get_running_loop()
    heartbeat_seconds = context.settings.notification_heartbeat_seconds
    next_heartbeat = loop.time() + heartbeat_seconds
    try:
        recheck = False
        while True:
            if (recheck or clock.now() >= expires_at) and not await _still_allowed(context, token):
                yield ServerSentEvent(event="closed", data="access ended: sign in again")
                return
            waiter.event.clear()  # before reading: a wake-up during the read is not lost
            waiter.recheck = False
            async with context.database.reader() as session:
                batch = await NotificationRepository(session).after(user_id, last_id, limit=BATCH)
            for notification in batch:
                last_id = notification.id
                yield ServerSentEvent(
                    id=str(notification.id),
                    event="notification",
                    data=NotificationRead.model_validate(notification).model_dump_json(),
                )
            if len(batch) == BATCH:
                continue
            look_at = loop.time() + _wait_seconds(context, expires_at)
            woken = False
            while not woken and (now := loop.time()) < look_at:
                if now >= next_heartbeat:
                    yield HEARTBEAT
                    next_heartbeat = now + heartbeat_seconds
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(look_at, next_heartbeat) - now):
                        await waiter.event.wait()
                        woken = True
            recheck = not woken or waiter.recheck
    finally:
        context.hub.detach(user_id, waiter)
