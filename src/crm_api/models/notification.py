"""The message centre: a notification per user, and each user's channel preferences."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from crm_api.core.clock import clock
from crm_api.core.orm import Base, IntPK
from crm_api.core.rules import status_check
from crm_api.notifications.policy import NotificationType


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        status_check(NotificationType, column="type"),
        # The list, the unread count and a stream's catch-up all walk one user's rows by id.
        Index("ix_notifications_user_id_id", "user_id", "id"),
        Index(
            "ix_notifications_unread",
            "user_id",
            sqlite_where=text("read_at IS NULL"),
            postgresql_where=text("read_at IS NULL"),
        ),
        Index("ix_notifications_entity", "entity_type", "entity_id"),
    )

    id: Mapped[IntPK]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    # What it is about: the record's type and id, and the API path that reads it.
    entity_type: Mapped[str | None] = mapped_column(String(32))
    entity_id: Mapped[int | None]
    path: Mapped[str | None] = mapped_column(String(300))
    read_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    @property
    def read(self) -> bool:
        return self.read_at is not None


class NotificationPreference(Base):
    """The channels a user's notifications also go to; no row: the message centre only."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    @property
    def id(self) -> int:
        """One row per user: the audit trail names it by its user."""
        return self.user_id
