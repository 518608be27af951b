"""The message centre: `notify` writes a person's notifications in the transaction of their cause; a user reads
and marks their own. A commit wakes the streams (core.pubsub) on every worker."""

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, and_
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core import audit, pubsub
from crm_api.core.clock import clock
from crm_api.core.errors import NotFound
from crm_api.core.pagination import Page, PageParams, Sort
from crm_api.core.permissions import Principal
from crm_api.models.notification import ChannelDelivery, Notification
from crm_api.notifications.policy import (
    EVERYONE,
    STREAM_CHANNEL,
    DeliveryPurpose,
    Link,
    NotificationChannel,
    NotificationType,
)
from crm_api.notifications.repository import NotificationRepository
from crm_api.notifications.schemas import (
    MarkedRead,
    NotificationPreferences,
    NotificationPreferencesRead,
    NotificationRead,
    UnreadCount,
)
from crm_api.webhooks.policy import DeliveryStatus

# NOTIFY payloads stop at 8000 bytes: a longer list of users wakes every stream instead.
MAX_WAKE_PAYLOAD = 7000


async def _wake(session: AsyncSession, user_ids: Iterable[int] | None) -> None:
    payload = EVERYONE if user_ids is None else ",".join(str(user_id) for user_id in sorted(set(user_ids)))
    await pubsub.publish(session, STREAM_CHANNEL, payload if len(payload) <= MAX_WAKE_PAYLOAD else EVERYONE)


async def notify(
    session: AsyncSession,
    user_ids: Iterable[int | None],
    notification_type: NotificationType,
    title: str,
    body: str,
    link: Link | None = None,
    *,
    email: bool = True,
) -> list[Notification]:
    """One notification per user (None and repeats skipped), committed or rolled back with the caller's change, and
    a delivery per channel each user chose (`email=False`: none by email, the caller sends its own)."""
    recipients = sorted({user_id for user_id in user_ids if user_id is not None})
    now = clock.now()
    notifications = [
        Notification(
            user_id=user_id,
            type=notification_type,
            title=title[:200],
            body=body,
            entity_type=link.entity_type if link else None,
            entity_id=link.entity_id if link else None,
            path=link.path if link else None,
            created_at=now,
        )
        for user_id in recipients
    ]
    if notifications:
        session.add_all(notifications)
        await session.flush()
        await NotificationRepository(session).queue_deliveries(
            Notification.id.in_([n.id for n in notifications]), now=now, email=email
        )
        await _wake(session, recipients)
    return notifications


async def notify_selected(
    session: AsyncSession, notification_type: NotificationType, rows: Select[*tuple[Any, ...]], *, once_per_record: bool = False
) -> int:
    """Set-based `notify` for jobs: one INSERT … SELECT from `rows`, which labels its columns user_id, title, body and
    the three of `policy.link_columns`. `once_per_record`: a user already notified of this type about a record is skipped."""
    repo = NotificationRepository(session)
    last_id, now = await repo.last_id(), clock.now()
    created = await repo.insert_selected(rows, notification_type=notification_type, now=now, once_per_record=once_per_record)
    if created:
        this_run = and_(Notification.id > last_id, Notification.type == notification_type, Notification.created_at == now)
        await repo.queue_deliveries(this_run, now=now)
        await _wake(session, None)
    return created


async def list_notifications(
    session: AsyncSession, principal: Principal, params: PageParams, *, unread: bool | None
) -> Page[NotificationRead]:
    """The caller's own notifications, newest first (an API key has none)."""
    repo = NotificationRepository(session)
    found = await repo.page(repo.of_user(principal.user_id, unread=unread), params, Sort([Notification.id]))
    return found.to_page(NotificationRead.model_validate)


async def unread_count(session: AsyncSession, principal: Principal) -> UnreadCount:
    return UnreadCount(unread=await NotificationRepository(session).unread_count(principal.user_id))


async def mark_read(session: AsyncSession, principal: Principal, notification_id: int) -> Notification:
    """Read from now on; one already read keeps its first read time."""
    notification = await NotificationRepository(session).get(notification_id)
    if notification is None or notification.user_id != principal.user_id:
        raise NotFound("Notification", notification_id)
    if notification.read_at is None:
        notification.read_at = clock.now()
    return notification


async def mark_all_read(session: AsyncSession, principal: Principal) -> MarkedRead:
    return MarkedRead(marked=await NotificationRepository(session).mark_all_read(principal.user_id, now=clock.now()))


async def get_preferences(session: AsyncSession, principal: Principal) -> NotificationPreferencesRead:
    if principal.user_id is None:
        return NotificationPreferencesRead(channels=[])
    channels = await NotificationRepository(session).channels_of(principal.user_id)
    return NotificationPreferencesRead(channels=[NotificationChannel(c) for c in channels])


async def set_preferences(
    session: AsyncSession, principal: Principal, data: NotificationPreferences
) -> NotificationPreferencesRead:
    if principal.user_id is None:
        raise NotFound("Notification preferences")
    repo = NotificationRepository(session)
    before = await repo.channels_of(principal.user_id)
    after = sorted(set(data.channels))
    await repo.replace_channels(principal.user_id, after)
    await audit.record_batch(
        session,
        actor=principal,
        batch_type="notification_preferences",
        batch_id=principal.user_id,
        action="update",
        summary={"channels": {"before": before, "after": after}},
    )
    return NotificationPreferencesRead(channels=[NotificationChannel(c) for c in after])


async def queue_email(
    session: AsyncSession, *, to: str, subject: str, body: str, html: str | None = None, purpose: DeliveryPurpose
) -> ChannelDelivery:
    """An email sent by the dispatcher once the caller's transaction commits (none if it rolls back)."""
    now = clock.now()
    delivery = ChannelDelivery(
        channel=NotificationChannel.EMAIL,
        purpose=purpose,
        recipient=to,
        subject=subject,
        body=body,
        html=html,
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(delivery)
    await session.flush()
    return delivery


async def has_notification(session: AsyncSession, user_id: int, notification_type: NotificationType, title: str) -> bool:
    """Whether the user already has this notification (a job run again in the same period sends it once)."""
    return await NotificationRepository(session).has(user_id, notification_type, title)
