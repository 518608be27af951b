"""Who is calling: a bearer token or an API key resolved to a Principal, from the worker's cache or the database.

Resolving a caller from the database costs a round trip and a permission merge; each worker keeps what it resolved
(`principal_cache`). Every change to what a caller may do announces itself with `principals_changed` in the
transaction that makes it, and every process forgets the caller when it commits (`core.cache`). Where no NOTIFY
arrives an entry is trusted for `principal_cache_seconds` only.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.cache import EVERYTHING, ProcessCache, announce, process_cache
from crm_api.core.clock import clock
from crm_api.core.config import Settings
from crm_api.core.errors import Unauthorized
from crm_api.core.permissions import Principal, merge_permissions
from crm_api.core.pubsub import PRINCIPAL_CHANNEL, PubSub
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


@dataclass
class _KeyCaller:
    principal: Principal
    last_use_written: datetime | None = None


def principal_cache(settings: Settings) -> ProcessCache:
    """The process's callers on this database: users by id (with the instant their earlier tokens stopped counting) and
    API keys by fingerprint."""
    return process_cache(
        settings.database_url,
        PRINCIPAL_CHANNEL,
        size=settings.principal_cache_size,
        trusted_seconds=settings.principal_cache_seconds,
    )


async def principals_changed(session: AsyncSession, user_id: int | None = None) -> None:
    """What the user (None: any caller, as when a role's grants change) may do changes in this transaction: every
    process forgets them when it commits."""
    await announce(session, PRINCIPAL_CHANNEL, EVERYTHING if user_id is None else str(user_id))


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

    def __init__(self, cache: ProcessCache, feed: PubSub) -> None:
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
        found: tuple[Principal, datetime | None] | None = self.cache.get(str(user_id))
        if found is None:
            epoch = self.cache.epoch
            found = await _active_principal(session, user_id)
            if found is None:
                raise Unauthorized("The account is disabled or no longer exists", code="auth.invalid_token")
            self.cache.put(str(user_id), found, epoch=epoch)
        principal, tokens_valid_after = found
        if tokens_valid_after is not None and issued_at <= tokens_valid_after:
            raise Unauthorized("The access token has been revoked", code="auth.invalid_token")
        return principal

    async def _integrator(self, session: AsyncSession, secret: str) -> Principal:
        digest = fingerprint(secret)
        cached: _KeyCaller | None = self.cache.get(f"api_key:{digest}")
        if cached is None:
            epoch = self.cache.epoch
            cached = await _key_caller(session, digest)
            self.cache.put(f"api_key:{digest}", cached, epoch=epoch)
        now = clock.now()
        if cached.last_use_written is None or now - cached.last_use_written >= API_KEY_USE_RESOLUTION:
            cached.last_use_written = now
            await session.execute(update(ApiKey).where(ApiKey.id == cached.principal.api_key_id).values(last_used_at=now))
        return cached.principal
