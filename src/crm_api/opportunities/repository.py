from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Select, bindparam, exists, insert, literal, or_, select, update

from crm_api.core.repository import Repository, among
from crm_api.core.types import UTCDateTime
from crm_api.customers.policy import CUSTOMER_ID
from crm_api.models.identity import Role, User
from crm_api.models.pipeline import Opportunity, PlanItem, Reminder, StageChange
from crm_api.notifications.policy import link_columns
from crm_api.opportunities import policy
from crm_api.opportunities.policy import FINAL_STATUSES, OpportunityStatus

STALL_REMINDER = "opportunity_stall"
# The customer 360's section (read/customer_360): the customer CUSTOMER_ID's open opportunities, newest first.
OPEN_FOR_CUSTOMER = (
    select(Opportunity.id, Opportunity.code, Opportunity.summary, Opportunity.status)
    .where(Opportunity.customer_id == bindparam(CUSTOMER_ID), ~among(Opportunity.status, FINAL_STATUSES))
    .order_by(Opportunity.id.desc())
)


class OpportunityRepository(Repository[Opportunity]):
    model = Opportunity
    visible = staticmethod(policy.visible)

    def filtered(
        self,
        statement: Select[Opportunity],
        *,
        status: OpportunityStatus | None,
        assignee_id: int | None,
        created_by: int | None,
        stage: str | None,
        q: str | None,
    ) -> Select[Opportunity]:
        if status:
            statement = statement.where(Opportunity.status == status)
        if assignee_id is not None:
            statement = statement.where(Opportunity.assignee_id == assignee_id)
        if created_by is not None:
            statement = statement.where(Opportunity.created_by_id == created_by)
        if stage:
            statement = statement.where(Opportunity.stage == stage)
        if q:
            pattern = f"%{q.lower()}%"
            statement = statement.where(
                or_(
                    Opportunity.customer_name.ilike(pattern),
                    Opportunity.summary.ilike(pattern),
                    Opportunity.code.ilike(pattern),
                )
            )
        return statement

    async def is_active_account_manager(self, user_id: int) -> bool:
        return bool(
            await self.session.scalar(
                select(exists().where(User.id == user_id, User.active.is_(True), User.roles.any(Role.code == "account_manager")))
            )
        )

    async def stage_history(self, opportunity_id: int) -> list[StageChange]:
        statement = select(StageChange).where(StageChange.opportunity_id == opportunity_id).order_by(StageChange.id)
        return list((await self.session.scalars(statement)).all())


class PlanItemRepository(Repository[PlanItem]):
    model = PlanItem

    def of_opportunity(self, opportunity_id: int) -> Select[PlanItem]:
        return self.select().where(PlanItem.opportunity_id == opportunity_id)


class ReminderRepository(Repository[Reminder]):
    model = Reminder
    visible = staticmethod(policy.reminder_visible)

    def of_user(self, user_id: int | None, *, open_only: bool) -> Select[Reminder]:
        statement = self.select().where(Reminder.user_id == user_id)
        return statement.where(Reminder.done_at.is_(None)) if open_only else statement

    async def settle_stall_reminders(self, opportunity_id: int, *, now: datetime) -> None:
        """The opportunity moved or closed: its open stall reminder has been answered."""
        await self.session.execute(
            update(Reminder)
            .where(Reminder.opportunity_id == opportunity_id, Reminder.kind == STALL_REMINDER, Reminder.done_at.is_(None))
            .values(done_at=now)
        )

    async def raise_stall_reminders(self, *, now: datetime, unchanged_since: datetime, days: int) -> int:
        """One INSERT … SELECT: a reminder per stalled assigned opportunity that has no open one."""
        has_open_reminder = exists().where(
            Reminder.opportunity_id == Opportunity.id, Reminder.kind == STALL_REMINDER, Reminder.done_at.is_(None)
        )
        stalled = select(
            Opportunity.assignee_id,
            literal(STALL_REMINDER),
            Opportunity.id,
            literal(f"Stage unchanged for {days} days or more: ") + Opportunity.code + literal(" ") + Opportunity.customer_name,
            literal(now, UTCDateTime()),
        ).where(Opportunity.status == OpportunityStatus.ASSIGNED, Opportunity.stage_since <= unchanged_since, ~has_open_reminder)
        result = await self.session.execute(
            insert(Reminder).from_select(["user_id", "kind", "opportunity_id", "message", "created_at"], stalled)
        )
        return int(cast("CursorResult[Any]", result).rowcount or 0)

    def stall_reminders_raised(self, after_id: int) -> Select[*tuple[Any, ...]]:
        """The stall reminders raised since `after_id` was the last, as notifications of their users."""
        return select(
            Reminder.user_id.label("user_id"),
            literal("Opportunity stalled").label("title"),
            Reminder.message.label("body"),
            *link_columns("opportunity", Reminder.opportunity_id),
        ).where(Reminder.kind == STALL_REMINDER, Reminder.id > after_id)
