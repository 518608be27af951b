"""Integrator API keys: the secret is returned once and only its fingerprint is stored."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from crm_api.api_keys.schemas import ApiKeyCreate, ApiKeyIssued, ApiKeyRead
from crm_api.auth.principal import principals_changed
from crm_api.core import audit
from crm_api.core.clock import clock
from crm_api.core.errors import InvalidInput, NotFound
from crm_api.core.permissions import Principal
from crm_api.core.security import fingerprint, new_secret
from crm_api.models.identity import ApiKey, Role


def to_read(key: ApiKey) -> ApiKeyRead:
    return ApiKeyRead(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        role=key.role.code,
        created_at=key.created_at,
        revoked_at=key.revoked_at,
        last_used_at=key.last_used_at,
    )


async def issue(session: AsyncSession, actor: Principal, data: ApiKeyCreate) -> ApiKeyIssued:
    role = await session.scalar(select(Role).where(Role.code == data.role))
    if role is None:
        raise InvalidInput("role", f"Unknown role {data.role}", code="api_key.unknown_role")
    secret = new_secret("crm")
    key = ApiKey(name=data.name, prefix=secret[:12], key_hash=fingerprint(secret), role=role, created_by_id=actor.user_id)
    session.add(key)
    await audit.record_change(session, actor=actor, entity_type="api_key", entity=key, action="create", before=None)
    return ApiKeyIssued(**to_read(key).model_dump(), secret=secret)


async def list_keys(session: AsyncSession) -> list[ApiKeyRead]:
    keys = await session.scalars(select(ApiKey).options(selectinload(ApiKey.role)).order_by(ApiKey.id))
    return [to_read(k) for k in keys]


async def get_key(session: AsyncSession, key_id: int) -> ApiKeyRead:
    key = await session.get(ApiKey, key_id, options=[selectinload(ApiKey.role)])
    if key is None:
        raise NotFound("API key", key_id)
    return to_read(key)


async def revoke(session: AsyncSession, actor: Principal, key_id: int) -> None:
    key = await session.get(ApiKey, key_id)
    if key is None:
        raise NotFound("API key", key_id)
    if key.revoked_at is None:
        before = audit.snapshot(key)
        key.revoked_at = clock.now()
        await principals_changed(session)  # workers know keys by their secret's fingerprint, not by id
        await audit.record_change(session, actor=actor, entity_type="api_key", entity=key, action="revoke", before=before)
