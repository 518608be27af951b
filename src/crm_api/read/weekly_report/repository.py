"""The counts of a team's week beside the reports': customers won, interactions, tickets archived, contracts signed
and money collected, under the supervisor's `reports:read` scope (their team's records)."""

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.contracts import policy as contract_policy
from crm_api.models.contract import Contract, Receipt
from crm_api.models.customer import Customer, Interaction
from crm_api.models.identity import Role, User, user_roles
from crm_api.models.ticket import ServiceTicket
from crm_api.read.reports.repository import PERMISSION, ReportRepository, revenue_cents
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

    async def contracts_signed_cents(self, first_day: date, last_day: date) -> tuple[int, int]:
        """How many contracts were signed in the days (in force or fulfilled now), and their amount in cents."""
        statement = select(func.count(), revenue_cents(Contract.amount)).where(
            contract_policy.visible(self.principal, PERMISSION),
            Contract.status.in_(contract_policy.SIGNED),
            Contract.sign_date >= first_day,
            Contract.sign_date <= last_day,
        )
        count, cents = (await self.session.execute(statement)).one()
        return int(count), int(cents)

    async def collected_cents(self, first_day: date, last_day: date) -> int:
        """The receipts received in the days, on contracts of any status, in cents."""
        statement = (
            select(revenue_cents(Receipt.amount))
            .join(Contract, Contract.id == Receipt.contract_id)
            .where(
                contract_policy.visible(self.principal, PERMISSION),
                Receipt.received_on >= first_day,
                Receipt.received_on <= last_day,
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
