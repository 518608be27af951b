"""The counts of a team's week beside the reports': customers won, interactions, tickets archived, under the
supervisor's `reports:read` scope (their team's records)."""

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.models.customer import Customer, Interaction
from crm_api.models.identity import Role, User, user_roles
from crm_api.models.ticket import ServiceTicket
from crm_api.read.reports.repository import PERMISSION, ReportRepository
from crm_api.tickets import policy as ticket_policy

SUPERVISOR_ROLE = "sales_supervisor"


class WeekRepository(ReportRepository):
    async def new_customers(self, period: tuple[datetime, datetime]) -> int:
        statement = select(func.count()).where(
            self.visible_customers(), Customer.created_at >= period[0], Customer.created_at < period[1]
        )
        return int(await self.session.scalar(statement) or 0)

    async def interactions(self, first_day: date, last_day: date) -> int:
        statement = (
            select(func.count())
            .select_from(Interaction)
            .join(Customer, Customer.id == Interaction.customer_id)
            .where(self.visible_customers(), Interaction.occurred_on >= first_day, Interaction.occurred_on <= last_day)
        )
        return int(await self.session.scalar(statement) or 0)

    async def tickets_archived(self, period: tuple[datetime, datetime]) -> int:
        statement = (
            select(func.count())
            .select_from(ServiceTicket)
            .join(Customer, Customer.id == ServiceTicket.customer_id)
            .where(
                ticket_policy.visible(self.principal, PERMISSION),
                ServiceTicket.archived_at >= period[0],
                ServiceTicket.archived_at < period[1],
            )
        )
        return int(await self.session.scalar(statement) or 0)


async def supervisors(session: AsyncSession) -> list[tuple[int, str | None]]:
    """Active sales supervisors of a team, with their email address."""
    statement = (
        select(User.id, User.email)
        .join(user_roles, user_roles.c.user_id == User.id)
        .join(Role, Role.id == user_roles.c.role_id)
        .where(Role.code == SUPERVISOR_ROLE, User.active.is_(True), User.team_id.is_not(None))
        .order_by(User.id)
    )
    return [(user_id, email) for user_id, email in await session.execute(statement)]
