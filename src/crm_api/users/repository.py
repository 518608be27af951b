from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import selectinload

from crm_api.core.permissions import PerScopeShape, Principal
from crm_api.core.repository import Repository
from crm_api.core.types import listed
from crm_api.models.identity import Role, Team, User, user_roles
from crm_api.users import policy
from crm_api.users.schemas import UserRead

# What a user's representation (UserRead) reads, each column labelled with its field's name: the role codes are one
# column of the user's row, so a page of users is one statement of plain rows.
READ_COLUMNS = (
    *(getattr(User, name).label(name) for name in UserRead.model_fields if name != "roles"),
    listed(
        select(Role.code)
        .join(user_roles, user_roles.c.role_id == Role.id)
        .where(user_roles.c.user_id == User.id)
        .order_by(Role.code)
    ).label("roles"),
)
_READ_SCOPED: PerScopeShape[Select[Any]] = PerScopeShape()


class UserRepository(Repository[User]):
    model = User
    visible = staticmethod(policy.visible)

    def read_scoped(self, principal: Principal) -> Select[Any]:
        """`READ_COLUMNS` of the users the principal may read, run with `scope_values(principal)`: built once per shape
        of the caller's scope."""
        return _READ_SCOPED.get(
            principal,
            "users:read",
            lambda: select(*READ_COLUMNS).where(policy.visible(principal, "users:read", named=True)),
        )

    def with_roles(self, statement: Select[User]) -> Select[User]:
        return statement.options(selectinload(User.roles))

    def filtered(
        self, statement: Select[Any], *, q: str | None, role: str | None, team_id: int | None, active: bool | None
    ) -> Select[Any]:
        if q:
            pattern = f"%{q.lower()}%"
            statement = statement.where(or_(User.username.like(pattern), User.full_name.ilike(pattern)))
        if role:
            statement = statement.where(User.roles.any(Role.code == role))
        if team_id is not None:
            statement = statement.where(User.team_id == team_id)
        if active is not None:
            statement = statement.where(User.active.is_(active))
        return statement

    async def by_id_with_roles(self, user_id: int) -> User | None:
        return await self.session.scalar(self.with_roles(select(User).where(User.id == user_id)))

    async def roles_by_code(self, codes: list[str]) -> list[Role]:
        return list((await self.session.scalars(select(Role).where(Role.code.in_(codes)))).all())

    async def team_members(self, team_id: int) -> list[User]:
        statement = self.with_roles(select(User).where(User.team_id == team_id).order_by(User.username))
        return list((await self.session.scalars(statement)).all())


class TeamRepository(Repository[Team]):
    model = Team
