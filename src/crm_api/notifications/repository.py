from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Select, case, delete, exists, func, insert, literal, or_, select, update

from crm_api.core.repository import Repository, skip_locked
from crm_api.models.identity import User
from crm_api.models.notification import (
    ChannelDelivery,
    Notification,
    NotificationChannelPreference,
    NotificationRobot,
    SmtpSettings,
)
from crm_api.notifications.policy import DeliveryPurpose, NotificationChannel
from crm_api.webhooks.policy import RETRYABLE, DeliveryStatus

# The one row of smtp_settings.
SMTP_SETTINGS_ID = 1
# The columns a set-based notifying SELECT gives, by label.
SELECTED_COLUMNS = ("user_id", "title", "body", "entity_type", "entity_id", "path")


class NotificationRepository(Repository[Notification]):
    model = Notification

    def of_user(self, user_id: int | None, *, unread: bool | None) -> Select[*tuple[Any, ...]]:
        statement = self.select().where(Notification.user_id == user_id)
        if unread is not None:
            statement = statement.where(Notification.read_at.is_(None) if unread else Notification.read_at.is_not(None))
        return statement

    async def unread_count(self, user_id: int | None) -> int:
        statement = select(func.count()).where(Notification.user_id == user_id, Notification.read_at.is_(None))
        return int(await self.session.scalar(statement) or 0)

    async def mark_all_read(self, user_id: int | None, *, now: datetime) -> int:
        result = await self.session.execute(
            update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None)).values(read_at=now)
        )
        return int(cast("CursorResult[Any]", result).rowcount or 0)

    async def after(self, user_id: int, last_id: int, *, limit: int) -> list[Notification]:
        """The user's notifications newer than `last_id`, oldest first: what a stream has not sent yet."""
        statement = (
            self.select().where(Notification.user_id == user_id, Notification.id > last_id).order_by(Notification.id).limit(limit)
        )
        return list((await self.session.scalars(statement)).all())

    async def latest_id(self, user_id: int) -> int:
        return int(await self.session.scalar(select(func.max(Notification.id)).where(Notification.user_id == user_id)) or 0)

    async def insert_selected(
        self, rows: Select[*tuple[Any, ...]], *, notification_type: str, now: datetime, once_per_record: bool
    ) -> int:
        """One INSERT … SELECT from `rows` (labelled SELECTED_COLUMNS); `once_per_record` skips a user already
        notified of this type about that record."""
        source = rows.subquery("notified")
        chosen = select(
            *(source.c[name] for name in SELECTED_COLUMNS), literal(notification_type), literal(now, Notification.created_at.type)
        )
        if once_per_record:
            already = exists().where(
                Notification.user_id == source.c.user_id,
                Notification.type == notification_type,
                Notification.entity_type == source.c.entity_type,
                Notification.entity_id == source.c.entity_id,
            )
            chosen = chosen.where(~already)
        result = await self.session.execute(insert(Notification).from_select([*SELECTED_COLUMNS, "type", "created_at"], chosen))
        return int(cast("CursorResult[Any]", result).rowcount or 0)

    async def channels_of(self, user_id: int) -> list[str]:
        statement = select(NotificationChannelPreference.channel).where(NotificationChannelPreference.user_id == user_id)
        return sorted(await self.session.scalars(statement))

    async def replace_channels(self, user_id: int, channels: Sequence[str]) -> None:
        await self.session.execute(delete(NotificationChannelPreference).where(NotificationChannelPreference.user_id == user_id))
        self.session.add_all(NotificationChannelPreference(user_id=user_id, channel=channel) for channel in channels)
        await self.session.flush()

    async def has(self, user_id: int, notification_type: str, title: str) -> bool:
        statement = select(Notification.id).where(
            Notification.user_id == user_id, Notification.type == notification_type, Notification.title == title
        )
        return await self.session.scalar(statement.limit(1)) is not None

    async def queue_deliveries(self, which: ColumnElement[bool], *, now: datetime, email: bool = True) -> int:
        """One INSERT … SELECT: a delivery per notification matching `which` and channel its user chose (email only
        to a user with an address), carrying what it sends."""
        by_email = NotificationChannelPreference.channel == NotificationChannel.EMAIL
        rows = (
            select(
                NotificationChannelPreference.channel,
                literal(DeliveryPurpose.NOTIFICATION.value),
                Notification.id,
                case((by_email, User.email), else_=User.username),
                Notification.title,
                Notification.body,
                literal(DeliveryStatus.PENDING.value),
                literal(0),
                literal(now, ChannelDelivery.next_attempt_at.type),
                literal(now, ChannelDelivery.created_at.type),
            )
            .select_from(Notification)
            .join(NotificationChannelPreference, NotificationChannelPreference.user_id == Notification.user_id)
            .join(User, User.id == Notification.user_id)
            .where(which, User.active.is_(True), or_(~by_email, User.email.is_not(None)))
        )
        columns = [
            "channel",
            "purpose",
            "notification_id",
            "recipient",
            "subject",
            "body",
            "status",
            "attempts",
            "next_attempt_at",
            "created_at",
        ]
        if not email:
            rows = rows.where(~by_email)
        result = await self.session.execute(insert(ChannelDelivery).from_select(columns, rows))
        return int(cast("CursorResult[Any]", result).rowcount or 0)


@dataclass(frozen=True)
class Outgoing:
    """A claimed delivery with what sending it needs, read before the claiming transaction ends."""

    delivery_id: int
    attempts: int
    channel: str
    recipient: str
    subject: str
    body: str
    html: str | None


class DeliveryRepository(Repository[ChannelDelivery]):
    model = ChannelDelivery

    def log(self, *, status: str | None, channel: str | None) -> Select[*tuple[Any, ...]]:
        statement = self.select()
        if status is not None:
            statement = statement.where(ChannelDelivery.status == status)
        return statement if channel is None else statement.where(ChannelDelivery.channel == channel)

    async def claim_due(self, *, now: datetime, limit: int, lease: timedelta) -> list[Outgoing]:
        """Due deliveries, leased so no other run takes them while they are in flight."""
        due = (
            select(
                ChannelDelivery.id,
                ChannelDelivery.attempts,
                ChannelDelivery.channel,
                ChannelDelivery.recipient,
                ChannelDelivery.subject,
                ChannelDelivery.body,
                ChannelDelivery.html,
            )
            .where(ChannelDelivery.status.in_(RETRYABLE), ChannelDelivery.next_attempt_at <= now)
            .order_by(ChannelDelivery.next_attempt_at, ChannelDelivery.id)
            .limit(limit)
        )
        claimed = [Outgoing(*row) for row in await self.session.execute(skip_locked(self.session, due))]
        if claimed:
            await self.session.execute(
                update(ChannelDelivery)
                .where(ChannelDelivery.id.in_([item.delivery_id for item in claimed]))
                .values(next_attempt_at=now + lease)
            )
        return claimed

    async def record_attempts(self, outcomes: list[dict[str, Any]]) -> None:
        """One executemany of per-delivery outcomes (every dict has the same keys, `id` first)."""
        if outcomes:
            await self.session.execute(update(ChannelDelivery), outcomes)

    async def robots(self) -> dict[str, NotificationRobot]:
        return {robot.kind: robot for robot in await self.session.scalars(select(NotificationRobot))}

    async def smtp(self) -> SmtpSettings | None:
        return await self.session.get(SmtpSettings, SMTP_SETTINGS_ID)
