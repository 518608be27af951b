from sqlalchemy import Select, or_, select
from sqlalchemy.orm import selectinload

from crm_api.core.repository import Repository
from crm_api.models.identity import Role, Team, User
from crm_api.users import policy


class UserRepository(Repository[User]):
    model = User
    visible = staticmethod(policy.visible)

    def with_roles(self, statement: Select[User]) -> Select[User]:
        return statement.options(selectinload(User.roles))

    def filtered(
        self, statement: Select[User], *, q: str | None, role: str | None, team_id: int | None, active: bool | None
    ) -> Select[User]:
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
