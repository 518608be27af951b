"""Users and teams: who works here, in which team, with which roles."""

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth.principal import principals_changed
from crm_api.auth.service import revoke_sessions
from crm_api.core import audit
from crm_api.core.errors import Conflict, InvalidInput, NotFound
from crm_api.core.pagination import Page, PageParams, PageRows
from crm_api.core.permissions import Principal, scope_values
from crm_api.core.security import hash_password
from crm_api.models.identity import Role, Team, User
from crm_api.users.repository import TeamRepository, UserRepository
from crm_api.users.schemas import TeamCreate, TeamDetail, TeamMember, TeamRead, TeamUpdate, UserCreate, UserRead, UserUpdate

API_KEY_ONLY_ROLES = frozenset({"integrator"})


def to_read(user: User) -> UserRead:
    return UserRead(
        id=user.id,
        username=user.username,
        full_name=user.full_name,
        email=user.email,
        active=user.active,
        team_id=user.team_id,
        team_name=user.team_name,
        roles=[role.code for role in user.roles],
        pool_claim_limit=user.pool_claim_limit,
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


def _audit_view(user: User) -> audit.Snapshot:
    return audit.snapshot(user) | {"roles": [role.code for role in user.roles]}


def _audit_view_password_changed(user: User) -> audit.Snapshot:
    # The hash never reaches the trail; that it changed does.
    return _audit_view(user) | {"password": "changed"}


async def _roles(repo: UserRepository, codes: list[str]) -> list[Role]:
    wanted = sorted(set(codes))
    found = await repo.roles_by_code(wanted)
    missing = sorted(set(wanted) - {role.code for role in found})
    if missing:
        raise InvalidInput("roles", f"Unknown roles: {', '.join(missing)}", code="user.unknown_role")
    if API_KEY_ONLY_ROLES & set(wanted):
        raise InvalidInput("roles", "The integrator role is for API keys only", code="user.api_key_role")
    return found


async def _ensure_team(session: AsyncSession, team_id: int | None) -> None:
    if team_id is not None and await session.get(Team, team_id) is None:
        raise InvalidInput("team_id", f"Team {team_id} does not exist", code="user.unknown_team")


async def get_user(session: AsyncSession, principal: Principal, user_id: int) -> User:
    repo = UserRepository(session)
    user = await session.scalar(repo.with_roles(repo.scoped(principal, "users:read").where(User.id == user_id)))
    if user is None:
        raise NotFound("User", user_id)
    return user


async def list_users(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    *,
    q: str | None = None,
    role: str | None = None,
    team_id: int | None = None,
    active: bool | None = None,
) -> Page[UserRead]:
    repo = UserRepository(session)
    statement = repo.filtered(repo.read_scoped(principal), q=q, role=role, team_id=team_id, active=active)
    page = await repo.page(statement, params, rows=PageRows.RECORDS, parameters=scope_values(principal))
    return page.to_page(UserRead.model_validate)


async def create_user(session: AsyncSession, actor: Principal | None, data: UserCreate) -> User:
    repo = UserRepository(session)
    if await session.scalar(repo.select().where(User.username == data.username)) is not None:
        raise Conflict(f"Username {data.username} is taken", code="user.username_taken")
    await _ensure_team(session, data.team_id)
    user = User(
        username=data.username,
        full_name=data.full_name,
        email=data.email,
        password_hash=hash_password(data.password),
        team_id=data.team_id,
        roles=await _roles(repo, data.roles),
    )
    session.add(user)
    await audit.record_change(
        session, actor=actor, entity_type="user", entity=user, action="create", before=None, view=_audit_view
    )
    return user


async def update_user(session: AsyncSession, actor: Principal, user_id: int, data: UserUpdate) -> User:
    repo = UserRepository(session)
    user = await get_user(session, actor, user_id)
    before = _audit_view(user)
    roles_before = {role.code for role in user.roles}
    team_before = user.team_id
    changes = data.changes()
    if "team_id" in changes:
        await _ensure_team(session, changes["team_id"])
        user.team_id = changes["team_id"]
    if "roles" in changes:
        user.roles = await _roles(repo, changes["roles"])
    if "password" in changes:
        user.password_hash = hash_password(changes["password"])
    for field in ("full_name", "email", "pool_claim_limit"):
        if field in changes:
            setattr(user, field, changes[field])
    # New credentials or new powers: tokens issued before stop working at once.
    if "password" in changes or roles_before != {role.code for role in user.roles}:
        await revoke_sessions(session, user)
    elif user.team_id != team_before or "full_name" in changes:
        # Team-scoped permissions reach another team; what the user writes next shows their new name.
        await principals_changed(session, user.id)
    view = _audit_view_password_changed if "password" in changes else _audit_view
    await audit.record_change(session, actor=actor, entity_type="user", entity=user, action="update", before=before, view=view)
    return user


async def set_user_active(session: AsyncSession, actor: Principal, user_id: int, *, active: bool) -> User:
    user = await get_user(session, actor, user_id)
    if not active and user.id == actor.user_id:
        raise Conflict("You cannot disable your own account", code="user.cannot_disable_self")
    if user.active == active:
        return user
    before = _audit_view(user)
    user.active = active
    if not active:
        await revoke_sessions(session, user)
    else:
        await principals_changed(session, user.id)
    action = "enable" if active else "disable"
    await audit.record_change(
        session, actor=actor, entity_type="user", entity=user, action=action, before=before, view=_audit_view
    )
    return user


async def list_teams(session: AsyncSession, params: PageParams) -> Page[TeamRead]:
    repo = TeamRepository(session)
    return (await repo.page(repo.select(), params)).to_page(TeamRead.model_validate)


async def get_team(session: AsyncSession, team_id: int) -> TeamDetail:
    team = await TeamRepository(session).get_or_404(team_id, "Team")
    members = await UserRepository(session).team_members(team_id)
    return TeamDetail(
        id=team.id,
        name=team.name,
        description=team.description,
        created_at=team.created_at,
        members=[
            TeamMember(id=m.id, username=m.username, full_name=m.full_name, active=m.active, roles=[r.code for r in m.roles])
            for m in members
        ],
    )


async def _ensure_team_name_free(session: AsyncSession, name: str, *, except_id: int | None = None) -> None:
    existing = await session.scalar(TeamRepository(session).select().where(Team.name == name))
    if existing is not None and existing.id != except_id:
        raise Conflict(f"Team {name} already exists", code="team.name_taken")


async def create_team(session: AsyncSession, actor: Principal | None, data: TeamCreate) -> Team:
    await _ensure_team_name_free(session, data.name)
    team = Team(name=data.name, description=data.description)
    session.add(team)
    await audit.record_change(session, actor=actor, entity_type="team", entity=team, action="create", before=None)
    return team


async def update_team(session: AsyncSession, actor: Principal, team_id: int, data: TeamUpdate) -> TeamDetail:
    team = await TeamRepository(session).get_or_404(team_id, "Team")
    before = audit.snapshot(team)
    changes = data.changes()
    if "name" in changes:
        await _ensure_team_name_free(session, changes["name"], except_id=team.id)
    for field, value in changes.items():
        setattr(team, field, value)
    await audit.record_change(session, actor=actor, entity_type="team", entity=team, action="update", before=before)
    return await get_team(session, team_id)
