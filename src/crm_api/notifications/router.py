from typing import Annotated

from fastapi import Header, Query, Request
from sse_starlette import EventSourceResponse

from crm_api.core.auth import Authenticated, bearer_token
from crm_api.core.db import SessionDep
from crm_api.core.errors import Forbidden
from crm_api.core.pagination import Page, PageParams, listing
from crm_api.core.responses import raises
from crm_api.core.routing import DomainRouter
from crm_api.core.schemas import MAX_ID, Id
from crm_api.notifications import service
from crm_api.notifications.schemas import (
    MarkedRead,
    NotificationPreferences,
    NotificationPreferencesRead,
    NotificationRead,
    UnreadCount,
)
from crm_api.notifications.stream import StreamContext, notifications_of, starting_point

router = DomainRouter(prefix="/notifications", tags=["notifications"])


NotificationPage = Annotated[PageParams, listing("NotificationSort", "created_at")]


@router.get(
    "",
    response_model=Page[NotificationRead],
    summary="The caller's notifications, newest first",
)
async def list_notifications(
    principal: Authenticated,
    session: SessionDep,
    page: NotificationPage,
    unread: Annotated[bool | None, Query(description="true: only unread; false: only read")] = None,
) -> Page[NotificationRead]:
    return await service.list_notifications(session, principal, page, unread=unread)


@router.get(
    "/unread-count",
    response_model=UnreadCount,
    summary="How many of the caller's notifications are unread",
)
async def count_unread_notifications(principal: Authenticated, session: SessionDep) -> UnreadCount:
    return await service.unread_count(session, principal)


STREAM_DESCRIPTION = """Server-Sent Events: each new notification of the caller as an event `notification` whose `id` is
the notification's id and whose `data` is the notification as the list shows it, within 2 s whichever worker created it.
A reconnecting client sends the last id it saw as `Last-Event-ID` and gets what it missed first; without it the stream
starts from now. A comment line comes every `CRM_NOTIFICATION_HEARTBEAT_SECONDS`. When the user is disabled, or the
token expires or is revoked, the stream sends an event `closed` and ends: sign in again."""


@router.get(
    "/stream",
    response_class=EventSourceResponse,
    summary="Push the caller's new notifications (Server-Sent Events)",
    description=STREAM_DESCRIPTION,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
@raises("notification.user_only")
async def stream_notifications(
    request: Request,
    principal: Authenticated,
    session: SessionDep,
    last_event_id: Annotated[int | None, Header(alias="Last-Event-ID", ge=0, le=MAX_ID)] = None,
) -> EventSourceResponse:
    token = bearer_token(request)
    if principal.user_id is None or token is None:
        raise Forbidden("Only a signed-in user has notifications to stream", code="notification.user_only")
    state = request.app.state
    context = StreamContext(state.db, state.settings, state.authenticate, state.notification_streams)
    after_id = await starting_point(session, principal.user_id, last_event_id)
    events = notifications_of(context, user_id=principal.user_id, token=token, after_id=after_id)
    return EventSourceResponse(events, ping=0)  # the events bring their own heartbeats (stream._waiting)


@router.post("/read-all", response_model=MarkedRead, summary="Mark all the caller's notifications read")
async def read_all_notifications(principal: Authenticated, session: SessionDep) -> MarkedRead:
    return await service.mark_all_read(session, principal)


@router.get(
    "/preferences",
    response_model=NotificationPreferencesRead,
    summary="The channels the caller's notifications also go to",
)
async def get_notification_preferences(principal: Authenticated, session: SessionDep) -> NotificationPreferencesRead:
    return await service.get_preferences(session, principal)


@router.put(
    "/preferences",
    response_model=NotificationPreferencesRead,
    summary="Choose the channels the caller's notifications also go to",
)
@raises("notification_preferences.not_found")
async def set_notification_preferences(
    body: NotificationPreferences, principal: Authenticated, session: SessionDep
) -> NotificationPreferencesRead:
    return await service.set_preferences(session, principal, body)


@router.post(
    "/{notification_id}/read",
    response_model=NotificationRead,
    summary="Mark one of the caller's notifications read",
)
async def read_notification(notification_id: Id, principal: Authenticated, session: SessionDep) -> NotificationRead:
    return NotificationRead.model_validate(await service.mark_read(session, principal, notification_id))
