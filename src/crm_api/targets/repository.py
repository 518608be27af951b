from datetime import date

from sqlalchemy import Select, select

from crm_api.core.repository import Repository
from crm_api.models.identity import Team, User
from crm_api.models.target import SalesTarget
from crm_api.targets import policy
from crm_api.targets.policy import TargetHolder


class SalesTargetRepository(Repository[SalesTarget]):
    model = SalesTarget
    visible = staticmethod(policy.visible)

    def filtered(
        self,
        statement: Select[SalesTarget],
        *,
        month_from: date | None,
        month_to: date | None,
        user_id: int | None,
        team_id: int | None,
        holder: TargetHolder | None,
    ) -> Select[SalesTarget]:
        if month_from is not None:
            statement = statement.where(SalesTarget.month >= month_from)
        if month_to is not None:
            statement = statement.where(SalesTarget.month <= month_to)
        if user_id is not None:
            statement = statement.where(SalesTarget.user_id == user_id)
        if team_id is not None:
            statement = statement.where(SalesTarget.team_id == team_id)
        if holder is TargetHolder.USER:
            statement = statement.where(SalesTarget.user_id.is_not(None))
        elif holder is TargetHolder.TEAM:
            statement = statement.where(SalesTarget.team_id.is_not(None))
        return statement

    async def existing_id(self, *, month: date, user_id: int | None, team_id: int | None) -> int | None:
        """The target already set for this holder and month, whoever may see it."""
        key = SalesTarget.user_id == user_id if user_id is not None else SalesTarget.team_id == team_id
        return await self.session.scalar(select(SalesTarget.id).where(key, SalesTarget.month == month))

    async def user_team(self, user_id: int) -> tuple[bool, int | None]:
        """Whether the user exists, and their team."""
        row = (await self.session.execute(select(User.team_id).where(User.id == user_id))).first()
        return (row is not None, row.team_id if row is not None else None)

    async def team_exists(self, team_id: int) -> bool:
        return await self.session.scalar(select(Team.id).where(Team.id == team_id)) is not None
