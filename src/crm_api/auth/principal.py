"""Who is calling: a bearer token or an API key resolved to a Principal, from the worker's cache or the database.

Resolving a caller from the database costs a round trip and a permission merge; each worker keeps what it resolved
(`PrincipalCache`). Every change to what a caller may do announces itself with `principals_changed` in the
transaction that makes it: when that commits the writer's process forgets the caller at once, and every other process
when the NOTIFY on the principal channel reaches it. Where no NOTIFY arrives (SQLite, or PostgreSQL while the
listening connection is down) an entry is trusted for `principal_cache_seconds` only.
"""

import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, event, select, update
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from crm_api.core import pubsub
from crm_api.core.clock import clock
from crm_api.core.config import Settings
from crm_api.core.errors import Unauthorized
from crm_api.core.permissions import Principal, merge_permissions
from crm_api.core.pubsub import EVERY_PRINCIPAL, PRINCIPAL_CHANNEL, PubSub
from crm_api.core.security import decode_access_token, fingerprint
from crm_api.models.identity import ApiKey, Role, RolePermission, User, user_roles

# The user, their roles and every grant in one round trip: this runs on every request the cache cannot answer.
_PRINCIPAL_ROWS = (
    select(
        User.username,
        User.full_name,
        User.team_id,
        User.active,
        User.tokens_valid_after,
        Role.code,
        RolePermission.permission,
        RolePermission.scope,
    )
    .select_from(User)
    .outerjoin(user_roles, user_roles.c.user_id == User.id)
    .outerjoin(Role, Role.id == user_roles.c.role_id)
    .outerjoin(RolePermission, RolePermission.role_id == Role.id)
    .where(User.id == bindparam("user_id"))
)

# An API key's last use is written at most this often per worker: a write on every request would undo the cache.
API_KEY_USE_RESOLUTION = timedelta(minutes=1)

# A session's announced changes, applied to its process's cache when the transaction commits.
_CHANGED = "crm.principals_changed"


@dataclass
class _KeyCaller:
    principal: Principal
    last_use_written: datetime | None = None


@dataclass
class _Entry:
    value: Any
    stored_at: float


class PrincipalCache:
    """The callers one process resolved: users by id (with the instant their earlier tokens stopped counting) and API
    keys by fingerprint, least recently used evicted past `size`.

    A lookup that started before a change was forgotten is not stored: it may have read the rows as they were.
    """

    def __init__(self, *, size: int, trusted_seconds: float) -> None:
        self._size = size
        self._trusted_seconds = trusted_seconds
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._feeds: list[PubSub] = []
        # Moves on every change forgotten: a lookup stores its result only if it did not move meanwhile.
        self.epoch = 0

    def __len__(self) -> int:
        return len(self._entries)

    def _told_of_changes(self) -> bool:
        return any(feed.listening for feed in self._feeds)

    def get(self, key: Hashable) -> Any:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if not self._told_of_changes() and time.monotonic() - entry.stored_at > self._trusted_seconds:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry.value

    def put(self, key: Hashable, value: Any, *, epoch: int) -> None:
        if epoch != self.epoch:
            return
        self._entries[key] = _Entry(value, time.monotonic())
        self._entries.move_to_end(key)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def forget(self, change: str | None) -> None:
        """A user id, or everyone (`*`, or None: the listening connection came back and may have missed some)."""
        self.epoch += 1
        if change is not None and change.isdigit():
            self._entries.pop(int(change), None)
        else:
            self._entries.clear()

    async def listen(self, feed: PubSub) -> None:
        """Forget what `feed` announces on the principal channel (once per feed)."""
        if feed not in self._feeds:
            self._feeds.append(feed)
            await feed.subscribe(PRINCIPAL_CHANNEL, self.forget)


# One cache per process and database: every app of a process on one database (tests run several) sees the same rows.
_caches: dict[URL, PrincipalCache] = {}


def principal_cache(settings: Settings) -> PrincipalCache:
    url = make_url(settings.database_url)
    cache = _caches.get(url)
    if cache is None:
        cache = _caches[url] = PrincipalCache(
            size=settings.principal_cache_size, trusted_seconds=settings.principal_cache_seconds
        )
    return cache


async def principals_changed(session: AsyncSession, user_id: int | None = None) -> None:
    """What the user (None: any caller, as when a role's grants change) may do changes in this transaction: every
    process forgets them when it commits."""
    change = EVERY_PRINCIPAL if user_id is None else str(user_id)
    session.info.setdefault(_CHANGED, set()).add(change)
    await pubsub.publish(session, PRINCIPAL_CHANNEL, change)


@event.listens_for(Session, "after_commit")
def _forget_committed(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint: the changes count when the transaction does
    changes = session.info.pop(_CHANGED, ())
    cache = _caches.get(session.get_bind().engine.url) if changes else None
    if cache is not None:
        for change in changes:
            cache.forget(change)


@event.listens_for(Session, "after_rollback")
def _drop_rolled_back(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info.pop(_CHANGED, None)


async def _active_principal(session: AsyncSession, user_id: int) -> tuple[Principal, datetime | None] | None:
    """The active user's principal and the instant their earlier tokens stopped counting."""
    # On the connection, not the session: plain rows, without the ORM's per-statement bookkeeping.
    connection = await session.connection()
    rows = (await connection.execute(_PRINCIPAL_ROWS, {"user_id": user_id})).all()
    if not rows or not rows[0].active:
        return None
    first = rows[0]
    roles = tuple(sorted({row.code for row in rows if row.code is not None}))
    grants = [(row.permission, row.scope) for row in rows if row.permission is not None]
    principal = Principal(
        user_id=user_id,
        name=first.username,
        full_name=first.full_name,
        team_id=first.team_id,
        roles=roles,
        permissions=merge_permissions(grants),
    )
    return principal, first.tokens_valid_after


async def principal_for_user(session: AsyncSession, user_id: int) -> tuple[Principal, User] | None:
    """The active user with their merged permissions, and the user row."""
    found = await _active_principal(session, user_id)
    if found is None:
        return None
    user = await session.get(User, user_id)
    assert user is not None  # just read
    return found[0], user


async def _key_caller(session: AsyncSession, digest: str) -> _KeyCaller:
    key = await session.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
    if key is None or key.revoked_at is not None:
        raise Unauthorized("The API key is invalid or revoked", code="auth.invalid_api_key")
    role = await session.get(Role, key.role_id)
    assert role is not None  # FK
    grants = [(grant.permission, grant.scope) for grant in role.permissions]
    principal = Principal(
        user_id=None, name=key.name, team_id=None, roles=(role.code,), permissions=merge_permissions(grants), api_key_id=key.id
    )
    return _KeyCaller(principal)


class Authenticator:
    """The app's `authenticate` (core's `get_principal` calls it): the caller of a request, from the cache when it
    can answer."""

    def __init__(self, cache: PrincipalCache, feed: PubSub) -> None:
        self.cache = cache
        self._feed = feed

    async def __call__(self, session: AsyncSession, settings: Settings, *, token: str | None, api_key: str | None) -> Principal:
        await self.cache.listen(self._feed)
        if token:
            return await self._user(session, settings, token)
        if api_key:
            return await self._integrator(session, api_key)
        raise Unauthorized("Sign in, or send an API key", code="auth.not_authenticated")

    async def _user(self, session: AsyncSession, settings: Settings, token: str) -> Principal:
        decoded = decode_access_token(settings, token)
        if decoded is None:
            raise Unauthorized("The access token is invalid or expired", code="auth.invalid_token")
        user_id, issued_at = decoded
        found: tuple[Principal, datetime | None] | None = self.cache.get(user_id)
        if found is None:
            epoch = self.cache.epoch
            found = await _active_principal(session, user_id)
            if found is None:
                raise Unauthorized("The account is disabled or no longer exists", code="auth.invalid_token")
            self.cache.put(user_id, found, epoch=epoch)
        principal, tokens_valid_after = found
        if tokens_valid_after is not None and issued_at <= tokens_valid_after:
            raise Unauthorized("The access token has been revoked", code="auth.invalid_token")
        return principal

    async def _integrator(self, session: AsyncSession, secret: str) -> Principal:
        digest = fingerprint(secret)
        cached: _KeyCaller | None = self.cache.get(("api_key", digest))
        if cached is None:
            epoch = self.cache.epoch
            cached = await _key_caller(session, digest)
            self.cache.put(("api_key", digest), cached, epoch=epoch)
        now = clock.now()
        if cached.last_use_written is None or now - cached.last_use_written >= API_KEY_USE_RESOLUTION:
            cached.last_use_written = now
            await session.execute(update(ApiKey).where(ApiKey.id == cached.principal.api_key_id).values(last_used_at=now))
        return cached.principal
