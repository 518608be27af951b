"""Roles as sets of permissions; built-in ones are defined in code and cannot be changed here."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth.principal import principals_changed
from crm_api.core import audit
from crm_api.core.errors import Conflict, FieldError, InvalidInput, NotFound
from crm_api.core.permissions import PERMISSIONS, Principal
from crm_api.models.identity import Role, RolePermission
from crm_api.roles.schemas import Grant, PermissionRead, RoleCreate, RoleUpdate


def _audit_view(role: Role) -> audit.Snapshot:
    return audit.snapshot(role) | {"permissions": sorted(f"{g.permission}:{g.scope}" for g in role.permissions)}


def _grants(grants: list[Grant]) -> list[RolePermission]:
    unknown = [
        FieldError(field=f"permissions.{i}.permission", message=f"unknown permission {g.permission}", type="value_error")
        for i, g in enumerate(grants)
        if g.permission not in PERMISSIONS
    ]
    if unknown:
        raise InvalidInput.many(unknown, "Some permissions do not exist", code="role.unknown_permission")
    unique = {g.permission: g.scope for g in grants}
    return [RolePermission(permission=p, scope=s.value) for p, s in sorted(unique.items())]


def list_permissions() -> list[PermissionRead]:
    return [PermissionRead(permission=p, description=d) for p, d in PERMISSIONS.items()]


async def list_roles(session: AsyncSession) -> list[Role]:
    return list((await session.scalars(select(Role).order_by(Role.builtin.desc(), Role.code))).all())


async def get_role(session: AsyncSession, role_id: int) -> Role:
    role = await session.get(Role, role_id)
    if role is None:
        raise NotFound("Role", role_id)
    return role


async def create_role(session: AsyncSession, actor: Principal, data: RoleCreate) -> Role:
    if await session.scalar(select(Role).where(Role.code == data.code)) is not None:
        raise Conflict(f"Role {data.code} already exists", code="role.code_taken")
    role = Role(
        code=data.code, name=data.name, description=data.description, builtin=False, permissions=_grants(data.permissions)
    )
    session.add(role)
    await audit.record_change(
        session, actor=actor, entity_type="role", entity=role, action="create", before=None, view=_audit_view
    )
    return role


async def update_role(session: AsyncSession, actor: Principal, role_id: int, data: RoleUpdate) -> Role:
    role = await get_role(session, role_id)
    if role.builtin:
        raise Conflict("Built-in roles cannot be changed", code="role.builtin")
    before = _audit_view(role)
    changes = data.changes()
    if "permissions" in changes:
        role.permissions = _grants(data.permissions or [])
        await principals_changed(session)  # whoever holds the role, users and API keys
    for field in ("name", "description"):
        if field in changes:
            setattr(role, field, changes[field])
    await audit.record_change(
        session, actor=actor, entity_type="role", entity=role, action="update", before=before, view=_audit_view
    )
    return role
