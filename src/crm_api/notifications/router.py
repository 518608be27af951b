from typing import Annotated

from fastapi import APIRouter, Query

from crm_api.core.auth import Authenticated
from crm_api.core.db import SessionDep
from crm_api.core.errors import error_responses
from crm_api.core.pagination import Page, PageDep
from crm_api.core.schemas import Id
from crm_api.notifications import service
from crm_api.notifications.schemas import (
    MarkedRead,
    NotificationPreferences,
    NotificationPreferencesRead,
    NotificationRead,
    UnreadCount,
)

router = APIRouter(prefix="/notifications", tags=["notifications"])


@router.get(
    "",
    response_model=Page[NotificationRead],
    summary="The caller's notifications, newest first",
    responses=error_responses(401, 422),
)
async def list_notifications(
    principal: Authenticated,
    session: SessionDep,
    page: PageDep,
    unread: Annotated[bool | None, Query(description="true: only unread; false: only read")] = None,
) -> Page[NotificationRead]:
    return await service.list_notifications(session, principal, page, unread=unread)


@router.get(
    "/unread-count",
    response_model=UnreadCount,
    summary="How many of the caller's notifications are unread",
    responses=error_responses(401),
)
async def count_unread_notifications(principal: Authenticated, session: SessionDep) -> UnreadCount:
    return await service.unread_count(session, principal)


@router.post(
    "/read-all", response_model=MarkedRead, summary="Mark all the caller's notifications read", responses=error_responses(401)
)
async def read_all_notifications(principal: Authenticated, session: SessionDep) -> MarkedRead:
    return await service.mark_all_read(session, principal)


@router.get(
    "/preferences",
    response_model=NotificationPreferencesRead,
    summary="The channels the caller's notifications also go to",
    responses=error_responses(401),
)
async def get_notification_preferences(principal: Authenticated, session: SessionDep) -> NotificationPreferencesRead:
    return await service.get_preferences(session, principal)


@router.put(
    "/preferences",
    response_model=NotificationPreferencesRead,
    summary="Choose the channels the caller's notifications also go to",
    responses=error_responses(401, 404, 422),
)
async def set_notification_preferences(
    body: NotificationPreferences, principal: Authenticated, session: SessionDep
) -> NotificationPreferencesRead:
    return await service.set_preferences(session, principal, body)


@router.post(
    "/{notification_id}/read",
    response_model=NotificationRead,
    summary="Mark one of the caller's notifications read",
    responses=error_responses(401, 404),
)
async def read_notification(notification_id: Id, principal: Authenticated, session: SessionDep) -> NotificationRead:
    return NotificationRead.model_validate(await service.mark_read(session, principal, notification_id))
