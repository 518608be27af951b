"""Tasks: data scope through assignee and creator, the related record check, open → done | cancelled, audit."""

from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core import audit
from crm_api.core.clock import clock, local_today, start_of_local_day
from crm_api.core.config import Settings
from crm_api.core.errors import InvalidInput
from crm_api.core.http import check_if_match
from crm_api.core.pagination import Page, PageParams
from crm_api.core.permissions import Principal
from crm_api.core.transitions import transition
from crm_api.customers import service as customers
from crm_api.leads import service as leads
from crm_api.models.collaboration import Task
from crm_api.notifications import service as notifications
from crm_api.notifications.policy import Link, NotificationType
from crm_api.opportunities import service as opportunities
from crm_api.tasks.policy import RULES, TaskAction, TaskRelatedType, TaskStatus
from crm_api.tasks.repository import TaskRepository
from crm_api.tasks.schemas import TaskCreate, TaskFilters, TaskRead, TaskUpdate
from crm_api.tickets import service as tickets

# A related record must be one the creator may read: the permission to read it, and its domain's visibility check
# (under that permission).
IsVisible = Callable[[AsyncSession, Principal, int], Awaitable[bool]]
RELATED_RECORDS: dict[TaskRelatedType, tuple[str, IsVisible]] = {
    TaskRelatedType.CUSTOMER: ("customers:read", customers.is_visible),
    TaskRelatedType.OPPORTUNITY: ("opportunities:read", opportunities.is_visible),
    TaskRelatedType.SERVICE_TICKET: ("tickets:read", tickets.is_visible),
    TaskRelatedType.LEAD: ("leads:read", leads.is_visible),
}


def to_read(task: Task, principal: Principal) -> TaskRead:
    fields = {name: getattr(task, name) for name in TaskRead.model_fields if name != "allowed_actions"}
    return TaskRead(**fields, allowed_actions=RULES.allowed_actions(task, principal))


async def _load(session: AsyncSession, principal: Principal, task_id: int, permission: str) -> Task:
    return await TaskRepository(session).get_scoped_or_404(task_id, principal, permission, "Task")


async def get_task(session: AsyncSession, principal: Principal, task_id: int) -> Task:
    return await _load(session, principal, task_id, "tasks:read")


async def _open_task(session: AsyncSession, actor: Principal, task_id: int, action: TaskAction) -> Task:
    task = await _load(session, actor, task_id, "tasks:write")
    RULES.enforce(action, task, actor)
    return task


async def list_tasks(session: AsyncSession, principal: Principal, params: PageParams, filters: TaskFilters) -> Page[TaskRead]:
    repo = TaskRepository(session)
    statement = repo.filtered(repo.scoped(principal, "tasks:read"), filters, now=clock.now())
    tasks, next_cursor, total = await repo.page(statement, params)
    return Page(items=[to_read(t, principal) for t in tasks], next_cursor=next_cursor, total=total)


async def _ensure_assignee(session: AsyncSession, assignee_id: int) -> None:
    if not await TaskRepository(session).is_active_user(assignee_id):
        raise InvalidInput("assignee_id", f"User {assignee_id} is not an active user", code="task.assignee_invalid")


async def _ensure_related(
    session: AsyncSession, actor: Principal, related_type: TaskRelatedType | None, related_id: int | None
) -> None:
    """The related record exists and the creator may read it; otherwise, as for a 404, say only that it is not found."""
    if related_type is None and related_id is None:
        return
    if related_type is None or related_id is None:
        field = "related_id" if related_id is None else "related_type"
        raise InvalidInput(field, "related_type and related_id go together", code="task.related_incomplete")
    permission, is_visible = RELATED_RECORDS[related_type]
    if not actor.can(permission) or not await is_visible(session, actor, related_id):
        raise InvalidInput("related_id", f"No {related_type} {related_id} in your data scope", code="task.related_not_found")


async def create_task(session: AsyncSession, actor: Principal, data: TaskCreate) -> Task:
    assignee_id = data.assignee_id if data.assignee_id is not None else actor.user_id
    if assignee_id is None:
        raise InvalidInput("assignee_id", "An API key has no user to assign the task to", code="task.assignee_invalid")
    await _ensure_assignee(session, assignee_id)
    await _ensure_related(session, actor, data.related_type, data.related_id)
    task = Task(**data.model_dump(exclude={"assignee_id"}), assignee_id=assignee_id, created_by_id=actor.user_id)
    session.add(task)
    await audit.record_change(session, actor=actor, entity_type="task", entity=task, action="create", before=None)
    await _notify_new_assignee(session, actor, task)
    return task


async def _notify_new_assignee(session: AsyncSession, actor: Principal, task: Task) -> None:
    """Someone else's task for them: the assignee hears of it (not who gave it to themselves)."""
    if task.assignee_id != actor.user_id:
        body = f"Due {task.due_at.isoformat()}" if task.due_at else "No due time"
        await notifications.notify(
            session, [task.assignee_id], NotificationType.ASSIGNMENT, f"Task for you: {task.title}", body, Link("task", task.id)
        )


async def update_task(
    session: AsyncSession, actor: Principal, task_id: int, data: TaskUpdate, *, if_match: str | None = None
) -> Task:
    task = await _open_task(session, actor, task_id, TaskAction.EDIT)
    check_if_match(if_match, task)
    changes = data.changes()
    if "assignee_id" in changes and changes["assignee_id"] != task.assignee_id:
        await _ensure_assignee(session, changes["assignee_id"])
    before = audit.snapshot(task)
    for name, value in changes.items():
        setattr(task, name, value)
    await audit.record_change(session, actor=actor, entity_type="task", entity=task, action="update", before=before)
    if task.assignee_id != before["assignee_id"]:
        await _notify_new_assignee(session, actor, task)
    return task


async def _close(session: AsyncSession, actor: Principal, task_id: int, action: TaskAction, status: TaskStatus) -> Task:
    """A compare-and-set: of racing requests only the first closes the task."""
    task = await _open_task(session, actor, task_id, action)
    changes = {"status": status, "closed_at": clock.now()}
    return await transition(session, task, actor=actor, entity_type="task", action=action, changes=changes)


async def complete_task(session: AsyncSession, actor: Principal, task_id: int) -> Task:
    return await _close(session, actor, task_id, TaskAction.COMPLETE, TaskStatus.DONE)


async def cancel_task(session: AsyncSession, actor: Principal, task_id: int) -> Task:
    return await _close(session, actor, task_id, TaskAction.CANCEL, TaskStatus.CANCELLED)


async def delete_task(session: AsyncSession, actor: Principal, task_id: int) -> None:
    task = await _load(session, actor, task_id, "tasks:write")
    await audit.delete_recorded(session, actor=actor, entity_type="task", entity=task)


async def open_follow_ups(session: AsyncSession, settings: Settings) -> int:
    """A follow-up task for the owner of each active customer not contacted for more than N days.

    An interaction dated exactly N days ago (business calendar) is N days old, not more, so it does
    not trigger; a customer without interactions counts from the day it was created.
    """
    days = settings.follow_up_days
    cutoff = local_today(settings.time_zone) - timedelta(days=days)
    now = clock.now()
    repo = TaskRepository(session)
    last_id = await repo.last_id()
    opened = await repo.open_follow_ups(
        last_contact_before=cutoff, created_before=start_of_local_day(cutoff, settings.time_zone), now=now, days=days
    )
    await notifications.notify_selected(session, NotificationType.FOLLOW_UP_DUE, repo.follow_ups_opened(after_id=last_id))
    await audit.record_batch(
        session,
        actor=None,
        batch_type="follow_up_reminders",
        batch_id=cutoff.isoformat(),
        action="scan",
        summary={"cutoff": cutoff.isoformat(), "opened": opened},
    )
    return opened
