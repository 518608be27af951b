from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, Field

from crm_api.core.schemas import Id, InputModel, PatchModel, Text, VersionedOutput, example
from crm_api.tasks.policy import TaskAction, TaskKind, TaskPriority, TaskRelatedType, TaskStatus


class TaskCreate(InputModel):
    model_config = example(
        {
            "title": "准备季度回访材料",
            "priority": "normal",
            "due_at": "2026-07-01T09:00:00+08:00",
            "related_type": "customer",
            "related_id": 1,
        }
    )
    title: Annotated[str, Text(300)]
    notes: Annotated[str | None, Field(max_length=5000)] = None
    due_at: AwareDatetime | None = None
    priority: TaskPriority = TaskPriority.NORMAL
    assignee_id: Id | None = Field(default=None, description="An active user; the caller when left out")
    related_type: TaskRelatedType | None = None
    related_id: Id | None = Field(default=None, description="Required with `related_type`; must be in your data scope")


class TaskUpdate(PatchModel):
    """Only open tasks change; the related record stays what it was created with."""

    model_config = example({"priority": "high"})

    not_nullable = frozenset({"title", "priority", "assignee_id"})

    title: Annotated[str, Text(300)] | None = None
    notes: Annotated[str | None, Field(max_length=5000)] = None
    due_at: AwareDatetime | None = None
    priority: TaskPriority | None = None
    assignee_id: Id | None = None


class TaskFilters(BaseModel):
    """The filters of the task list, as query parameters; every one given must match."""

    assignee_id: Id | None = None
    status: TaskStatus | None = None
    due_before: AwareDatetime | None = Field(default=None, description="Due strictly before this instant")
    related_type: TaskRelatedType | None = None
    related_id: Id | None = None
    overdue: bool | None = Field(default=None, description="true: open tasks whose due time has passed")


class TaskRead(VersionedOutput):
    id: int
    title: str
    notes: str | None
    due_at: datetime | None
    priority: TaskPriority
    kind: TaskKind
    status: TaskStatus
    assignee_id: int
    assignee_name: str
    related_type: TaskRelatedType | None
    related_id: Id | None
    created_by_id: int | None = Field(description="null for tasks the system opened (follow-up reminders)")
    created_by_name: str | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    allowed_actions: list[TaskAction]
