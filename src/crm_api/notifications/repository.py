from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Select, exists, func, insert, literal, select, update

from crm_api.core.repository import Repository
from crm_api.models.notification import Notification, NotificationPreference

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

    async def preference(self, user_id: int) -> NotificationPreference | None:
        return await self.session.get(NotificationPreference, user_id)
