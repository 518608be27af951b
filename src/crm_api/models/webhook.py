"""Webhook subscriptions and their deliveries of the outbox's events (core.tables)."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_api.core.clock import clock
from crm_api.core.orm import Base, IntPK, Timestamped, Versioned
from crm_api.core.rules import status_check
from crm_api.core.tables import OutboxEvent
from crm_api.webhooks.policy import DeliveryStatus


class WebhookSubscription(Versioned, Timestamped, Base):
    __tablename__ = "webhook_subscriptions"

    id: Mapped[IntPK]
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(200))
    # Kept in clear: the dispatcher signs every body with it. Shown once on create, never read back.
    secret: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    events: Mapped[list["WebhookSubscriptionEvent"]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="WebhookSubscriptionEvent.event_type"
    )

    @property
    def event_types(self) -> list[str]:
        return sorted(event.event_type for event in self.events)


class WebhookSubscriptionEvent(Base):
    """One event type a subscription receives: a row each, so the fan-out is a plain join."""

    __tablename__ = "webhook_subscription_events"

    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class WebhookDelivery(Base):
    """One event to one subscription, tried until it succeeds or is dead."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        status_check(DeliveryStatus),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_event_id", "event_id"),
    )

    id: Mapped[IntPK]
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("outbox_events.id"))
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=clock.now)
    last_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_response_ms: Mapped[int | None]
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    event: Mapped[OutboxEvent] = relationship(lazy="joined", innerjoin=True)

    @property
    def event_type(self) -> str:
        return self.event.event_type
