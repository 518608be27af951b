from datetime import date, datetime

from sqlalchemy import Select, and_, exists, func, insert, literal, or_, select
from sqlalchemy.engine import CursorResult

from crm_api.core.permissions import Principal, scope_clause
from crm_api.core.repository import Repository
from crm_api.customers.policy import CustomerStatus
from crm_api.models.collaboration import Task
from crm_api.models.customer import Customer, Interaction
from crm_api.models.identity import User
from crm_api.tasks.schemas import TaskFilters

FOLLOW_UP = "follow_up"


class TaskRepository(Repository[Task]):
    """Visible when the assignee or the creator is within the caller's scope."""

    model = Task

    def scoped(self, principal: Principal, permission: str, *, include_deleted: bool = False) -> Select[tuple[Task]]:
        return self.select().where(
            or_(
                scope_clause(principal, permission, Task.assignee_id),
                scope_clause(principal, permission, Task.created_by_id),
            )
        )

    @staticmethod
    def filtered(statement: Select[tuple[Task]], filters: TaskFilters, *, now: datetime) -> Select[tuple[Task]]:
        exact = {
            Task.assignee_id: filters.assignee_id,
            Task.status: filters.status,
            Task.related_type: filters.related_type,
            Task.related_id: filters.related_id,
        }
        for column, value in exact.items():
            if value is not None:
                statement = statement.where(column == value)
        if filters.due_before is not None:
            statement = statement.where(Task.due_at < filters.due_before)
        if filters.overdue is True:
            statement = statement.where(Task.status == "open", Task.due_at < now)
        elif filters.overdue is False:
            statement = statement.where(or_(Task.status != "open", Task.due_at.is_(None), Task.due_at >= now))
        return statement

    async def is_active_user(self, user_id: int) -> bool:
        return bool(await self.session.scalar(select(exists().where(User.id == user_id, User.active.is_(True)))))

    async def open_follow_ups(self, *, last_contact_before: date, created_before: datetime, now: datetime, days: int) -> int:
        """One INSERT … SELECT: a follow-up task for the owner of every active customer not contacted
        since `last_contact_before` (or never, and created before `created_before`) that has no open one."""
        last_contacts = (
            select(Interaction.customer_id, func.max(Interaction.occurred_on).label("occurred_on"))
            .group_by(Interaction.customer_id)
            .subquery("last_contacts")
        )
        has_open_follow_up = exists().where(
            Task.related_type == "customer", Task.related_id == Customer.id, Task.kind == FOLLOW_UP, Task.status == "open"
        )
        at_now = literal(now, Task.created_at.type)
        uncontacted = (
            select(
                literal(f"Follow up: no contact for more than {days} days with ") + Customer.name,
                Customer.owner_id,
                literal("customer"),
                Customer.id,
                literal(FOLLOW_UP),
                literal("open"),
                literal("normal"),
                at_now,
                at_now,
                at_now,
            )
            .select_from(Customer)
            .outerjoin(last_contacts, last_contacts.c.customer_id == Customer.id)
            .where(
                Customer.status == CustomerStatus.ACTIVE,
                Customer.deleted_at.is_(None),
                ~has_open_follow_up,
                or_(
                    last_contacts.c.occurred_on < last_contact_before,
                    and_(last_contacts.c.occurred_on.is_(None), Customer.created_at < created_before),
                ),
            )
        )
        columns = [
            "title",
            "assignee_id",
            "related_type",
            "related_id",
            "kind",
            "status",
            "priority",
            "due_at",
            "created_at",
            "updated_at",
        ]
        result = await self.session.execute(insert(Task).from_select(columns, uncontacted))
        assert isinstance(result, CursorResult)
        return result.rowcount
