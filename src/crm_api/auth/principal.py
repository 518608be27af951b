"""Who is calling: a bearer token or an API key resolved to a Principal, on every request."""

from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.clock import clock
from crm_api.core.config import Settings
from crm_api.core.errors import Unauthorized
from crm_api.core.permissions import Principal, merge_permissions
from crm_api.core.security import decode_access_token, fingerprint
from crm_api.models.identity import ApiKey, Role, RolePermission, User, user_roles

# The user, their roles and every grant in one round trip: this runs on every request.
_PRINCIPAL_ROWS = (
    select(
        User.username,
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
        user_id=user_id, name=first.username, team_id=first.team_id, roles=roles, permissions=merge_permissions(grants)
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


async def _principal_for_token(session: AsyncSession, settings: Settings, token: str) -> Principal:
    decoded = decode_access_token(settings, token)
    if decoded is None:
        raise Unauthorized("The access token is invalid or expired", code="auth.invalid_token")
    user_id, issued_at = decoded
    found = await _active_principal(session, user_id)
    if found is None:
        raise Unauthorized("The account is disabled or no longer exists", code="auth.invalid_token")
    principal, tokens_valid_after = found
    if tokens_valid_after is not None and issued_at <= tokens_valid_after:
        raise Unauthorized("The access token has been revoked", code="auth.invalid_token")
    return principal


async def _principal_for_api_key(session: AsyncSession, secret: str) -> Principal:
    key = await session.scalar(select(ApiKey).where(ApiKey.key_hash == fingerprint(secret)))
    if key is None or key.revoked_at is not None:
        raise Unauthorized("The API key is invalid or revoked", code="auth.invalid_api_key")
    role = await session.get(Role, key.role_id)
    assert role is not None  # FK
    await session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=clock.now()))
    grants = [(grant.permission, grant.scope) for grant in role.permissions]
    return Principal(
        user_id=None, name=key.name, team_id=None, roles=(role.code,), permissions=merge_permissions(grants), api_key_id=key.id
    )


async def authenticate(session: AsyncSession, settings: Settings, *, token: str | None, api_key: str | None) -> Principal:
    """The caller of a request: the app hands this to core's `get_principal`."""
    if token:
        return await _principal_for_token(session, settings, token)
    if api_key:
        return await _principal_for_api_key(session, api_key)
    raise Unauthorized("Sign in, or send an API key", code="auth.not_authenticated")
