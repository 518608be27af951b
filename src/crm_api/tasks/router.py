from typing import Annotated

from fastapi import Depends, Query, Response, status

from crm_api.core import offline
from crm_api.core.auth import require
from crm_api.core.db import SessionDep
from crm_api.core.http import ETag, IfMatch, with_etag
from crm_api.core.pagination import Page, PageParams, listing
from crm_api.core.permissions import Principal
from crm_api.core.responses import raises
from crm_api.core.routing import DomainRouter
from crm_api.core.schemas import Id
from crm_api.tasks import service
from crm_api.tasks.schemas import TaskCreate, TaskFilters, TaskRead, TaskUpdate

router = DomainRouter(prefix="/tasks", tags=["tasks"])

TasksRead = Annotated[Principal, Depends(require("tasks:read"))]
TasksWrite = Annotated[Principal, Depends(require("tasks:write"))]


TaskPage = Annotated[PageParams, listing("TaskSort", "title", "created_at", "updated_at")]


@router.get(
    "",
    response_model=Page[TaskRead],
    summary="List tasks assigned to or created by people in your scope",
    description="`overdue=true` lists open tasks whose due time has passed: the due-task reminder.",
)
async def list_tasks(
    principal: TasksRead, session: SessionDep, page: TaskPage, filters: Annotated[TaskFilters, Query()]
) -> Page[TaskRead]:
    return await service.list_tasks(session, principal, page, filters)


@router.post(
    "",
    response_model=TaskRead,
    status_code=status.HTTP_201_CREATED,
    summary="Create a task, optionally about a customer, opportunity, service ticket or lead",
    responses=offline.replay_response(TaskRead),
)
@raises("task.not_found", "client_id.reused")
async def create_task(body: TaskCreate, principal: TasksWrite, session: SessionDep, response: Response) -> TaskRead:
    return service.to_read((await service.create_task(session, principal, body)).answer(response), principal)


@router.get("/{task_id}", response_model=TaskRead, summary="Get a task")
async def get_task(task_id: Id, principal: TasksRead, session: SessionDep, etag: ETag) -> TaskRead:
    return etag(service.to_read(await service.get_task(session, principal, task_id), principal))


@router.patch("/{task_id}", response_model=TaskRead, summary="Change an open task")
@raises("task.assignee_invalid", "task.not_open")
async def update_task(
    task_id: Id,
    body: TaskUpdate,
    principal: TasksWrite,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> TaskRead:
    task = await service.update_task(session, principal, task_id, body, if_match=if_match)
    return with_etag(response, service.to_read(task, principal))


@router.delete("/{task_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a task")
async def delete_task(task_id: Id, principal: TasksWrite, session: SessionDep) -> None:
    await service.delete_task(session, principal, task_id)


@router.post(
    "/{task_id}/complete",
    response_model=TaskRead,
    summary="Mark an open task done",
)
@raises("task.changed", "task.not_open")
async def complete_task(task_id: Id, principal: TasksWrite, session: SessionDep) -> TaskRead:
    return service.to_read(await service.complete_task(session, principal, task_id), principal)


@router.post("/{task_id}/cancel", response_model=TaskRead, summary="Cancel an open task")
@raises("task.changed", "task.not_open")
async def cancel_task(task_id: Id, principal: TasksWrite, session: SessionDep) -> TaskRead:
    return service.to_read(await service.cancel_task(session, principal, task_id), principal)
