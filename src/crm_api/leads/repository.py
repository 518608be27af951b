from sqlalchemy import Select, delete, func, or_, select

from crm_api.core.repository import Repository
from crm_api.leads import policy
from crm_api.leads.policy import OPEN_STATUSES, LeadStatus
from crm_api.models.identity import Role, User
from crm_api.models.pipeline import Lead, LeadActivity, LeadAssignmentRule, LeadScoringRule


class LeadRepository(Repository[Lead]):
    model = Lead
    visible = staticmethod(policy.visible)

    def filtered(
        self,
        statement: Select[Lead],
        *,
        status: LeadStatus | None,
        owner_id: int | None,
        source: str | None,
        region: str | None,
        industry: str | None,
        min_score: int | None,
        q: str | None,
    ) -> Select[Lead]:
        for column, value in (
            (Lead.status, status),
            (Lead.owner_id, owner_id),
            (Lead.source, source),
            (Lead.region, region),
            (Lead.industry, industry),
        ):
            if value is not None:
                statement = statement.where(column == value)
        if min_score is not None:
            statement = statement.where(Lead.score >= min_score)
        if q:
            pattern = f"%{q.lower()}%"
            statement = statement.where(
                or_(Lead.company.ilike(pattern), Lead.contact_name.ilike(pattern), Lead.email_normalized.like(pattern))
            )
        return statement

    async def open_duplicate(self, *, phone_e164: str | None, email: str | None, except_id: int | None) -> Lead | None:
        """An open lead (new/working/qualified) with the same normalized phone or email, whoever owns it."""
        matches = [column == value for column, value in ((Lead.phone_e164, phone_e164), (Lead.email_normalized, email)) if value]
        if not matches:
            return None
        statement = select(Lead).where(Lead.status.in_(OPEN_STATUSES), or_(*matches))
        if except_id is not None:
            statement = statement.where(Lead.id != except_id)
        return await self.session.scalar(statement.order_by(Lead.id).limit(1))

    async def activity_count(self, lead_id: int) -> int:
        return int(await self.session.scalar(select(func.count()).where(LeadActivity.lead_id == lead_id)) or 0)

    async def not_converted_with_activity_counts(self) -> list[tuple[Lead, int]]:
        activities = select(LeadActivity.lead_id, func.count().label("n")).group_by(LeadActivity.lead_id).subquery()
        statement = (
            select(Lead, func.coalesce(activities.c.n, 0))
            .outerjoin(activities, activities.c.lead_id == Lead.id)
            .where(Lead.status != LeadStatus.CONVERTED)
        )
        return [(lead, int(n)) for lead, n in (await self.session.execute(statement)).all()]


class ActivityRepository(Repository[LeadActivity]):
    model = LeadActivity

    def of_lead(self, lead_id: int) -> Select[LeadActivity]:
        return self.select().where(LeadActivity.lead_id == lead_id)


class ScoringRuleRepository(Repository[LeadScoringRule]):
    model = LeadScoringRule

    async def all(self) -> list[LeadScoringRule]:
        statement = select(LeadScoringRule).order_by(LeadScoringRule.position, LeadScoringRule.id)
        return list((await self.session.scalars(statement)).all())

    async def clear(self) -> None:
        await self.session.execute(delete(LeadScoringRule))


class AssignmentRuleRepository(Repository[LeadAssignmentRule]):
    model = LeadAssignmentRule

    def by_priority(self) -> Select[LeadAssignmentRule]:
        return self.select().order_by(LeadAssignmentRule.priority, LeadAssignmentRule.id)

    async def matching(self, *, region: str | None, industry: str | None, source: str | None) -> list[LeadAssignmentRule]:
        """Active rules whose every set criterion equals the lead's, first in priority first; locked for round-robin."""
        statement = self.by_priority().where(LeadAssignmentRule.active.is_(True))
        for column, value in (
            (LeadAssignmentRule.region, region),
            (LeadAssignmentRule.industry, industry),
            (LeadAssignmentRule.source, source),
        ):
            statement = statement.where(column.is_(None) | (column == value) if value is not None else column.is_(None))
        return list((await self.session.scalars(statement.with_for_update())).all())

    async def round_robin_members(self, team_id: int) -> list[int]:
        """Active account managers of the team, in a stable order."""
        statement = (
            select(User.id)
            .where(User.team_id == team_id, User.active.is_(True), User.roles.any(Role.code == "account_manager"))
            .order_by(User.id)
        )
        return list((await self.session.scalars(statement)).all())

    async def is_active_user(self, user_id: int) -> bool:
        return bool(await self.session.scalar(select(User.active).where(User.id == user_id)))
