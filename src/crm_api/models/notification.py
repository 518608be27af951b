"""The message centre: a notification per user, the channels each user chose, the channels' settings, and the
delivery log of what went out over them."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from crm_api.core.clock import clock
from crm_api.core.orm import Base, IntPK
from crm_api.core.rules import status_check
from crm_api.notifications.policy import DeliveryPurpose, NotificationChannel, NotificationType, RobotKind, SmtpSecurity
from crm_api.webhooks.policy import DeliveryStatus


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


class NotificationChannelPreference(Base):
    """A channel a user's notifications also go to; none: the message centre only."""

    __tablename__ = "notification_channel_preferences"
    __table_args__ = (status_check(NotificationChannel, column="channel"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)


class NotificationRobot(Base):
    """A vendor's group robot, set by an admin: where the users who chose that channel have notifications posted."""

    __tablename__ = "notification_robots"
    __table_args__ = (status_check(RobotKind, column="kind"),)

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    # WeCom's and DingTalk's URLs carry their key or access token: like the secret, never read back.
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class SmtpSettings(Base):
    """The one SMTP server mail goes out through (row id 1), set by an admin."""

    __tablename__ = "smtp_settings"
    __table_args__ = (status_check(SmtpSecurity, column="security"),)

    id: Mapped[IntPK]
    host: Mapped[str] = mapped_column(String(253))
    port: Mapped[int] = mapped_column(Integer)
    security: Mapped[str] = mapped_column(String(16))
    username: Mapped[str | None] = mapped_column(String(254))
    password: Mapped[str | None] = mapped_column(String(200))
    sender: Mapped[str] = mapped_column(String(254))
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class ChannelDelivery(Base):
    """One message to send over a channel, written in the transaction of its cause (the channels' outbox) and tried
    by the dispatcher until it succeeds or is dead: the delivery log."""

    __tablename__ = "channel_deliveries"
    __table_args__ = (
        status_check(NotificationChannel, column="channel"),
        status_check(DeliveryStatus),
        status_check(DeliveryPurpose, column="purpose"),
        Index("ix_channel_deliveries_due", "status", "next_attempt_at"),
        Index("ix_channel_deliveries_notification_id", "notification_id"),
    )

    id: Mapped[IntPK]
    channel: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(16), default=DeliveryPurpose.NOTIFICATION)
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"))
    # An email address, or the user a robot message names.
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=clock.now)
    last_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
