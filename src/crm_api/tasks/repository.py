from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, and_, exists, func, insert, literal, or_, select
from sqlalchemy.engine import CursorResult

from crm_api.core.repository import Repository
from crm_api.customers.policy import CustomerStatus
from crm_api.models.collaboration import Task
from crm_api.models.customer import Customer, Interaction
from crm_api.models.identity import User
from crm_api.notifications.policy import link_columns
from crm_api.tasks import policy
from crm_api.tasks.policy import TaskKind, TaskPriority, TaskRelatedType, TaskStatus
from crm_api.tasks.schemas import TaskFilters


class TaskRepository(Repository[Task]):
    model = Task
    visible = staticmethod(policy.visible)

    @staticmethod
    def filtered(statement: Select[Task], filters: TaskFilters, *, now: datetime) -> Select[Task]:
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
            statement = statement.where(Task.status == TaskStatus.OPEN, Task.due_at < now)
        elif filters.overdue is False:
            statement = statement.where(or_(Task.status != TaskStatus.OPEN, Task.due_at.is_(None), Task.due_at >= now))
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
            Task.related_type == TaskRelatedType.CUSTOMER,
            Task.related_id == Customer.id,
            Task.kind == TaskKind.FOLLOW_UP,
            Task.status == TaskStatus.OPEN,
        )
        at_now = literal(now, Task.created_at.type)
        uncontacted = (
            select(
                literal(f"Follow up: no contact for more than {days} days with ") + Customer.name,
                Customer.owner_id,
                literal(TaskRelatedType.CUSTOMER.value),
                Customer.id,
                literal(TaskKind.FOLLOW_UP.value),
                literal(TaskStatus.OPEN.value),
                literal(TaskPriority.NORMAL.value),
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

    def follow_ups_opened(self, after_id: int) -> Select[*tuple[Any, ...]]:
        """The follow-up tasks opened since `after_id` was the last task, as notifications of their assignees."""
        return select(
            Task.assignee_id.label("user_id"),
            literal("Follow-up due").label("title"),
            Task.title.label("body"),
            *link_columns("task", Task.id),
        ).where(Task.kind == TaskKind.FOLLOW_UP, Task.id > after_id)
