from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import literal, select, update

from crm_api.core.repository import Repository, skip_locked
from crm_api.core.tables import OutboxEvent
from crm_api.models.webhook import WebhookDelivery, WebhookSubscription, WebhookSubscriptionEvent
from crm_api.webhooks.policy import RETRYABLE, DeliveryStatus


@dataclass(frozen=True)
class Outgoing:
    """A claimed delivery with what sending it needs, read before the claiming transaction ends."""

    delivery_id: int
    attempts: int
    url: str
    secret: str
    event_id: int
    event_type: str
    occurred_at: datetime
    payload: dict[str, Any]


class WebhookRepository(Repository[WebhookSubscription]):
    model = WebhookSubscription


class DeliveryRepository(Repository[WebhookDelivery]):
    model = WebhookDelivery

    def of_subscription(self, subscription_id: int, status: str | None) -> Any:
        statement = self.select().where(WebhookDelivery.subscription_id == subscription_id)
        return statement if status is None else statement.where(WebhookDelivery.status == status)

    async def fan_out(self, *, now: datetime, limit: int) -> int:
        """Deliveries for the oldest undispatched events to every active subscriber; returns events handled."""
        batch = select(OutboxEvent.id).where(OutboxEvent.dispatched_at.is_(None)).order_by(OutboxEvent.id).limit(limit)
        event_ids = list(await self.session.scalars(skip_locked(self.session, batch)))
        if not event_ids:
            return 0
        matches = (
            select(
                WebhookSubscription.id,
                OutboxEvent.id,
                literal(DeliveryStatus.PENDING),
                literal(0),
                literal(now, WebhookDelivery.next_attempt_at.type),
                literal(now, WebhookDelivery.created_at.type),
            )
            .select_from(OutboxEvent)
            .join(WebhookSubscriptionEvent, WebhookSubscriptionEvent.event_type == OutboxEvent.event_type)
            .join(WebhookSubscription, WebhookSubscription.id == WebhookSubscriptionEvent.subscription_id)
            .where(OutboxEvent.id.in_(event_ids), WebhookSubscription.active.is_(True))
        )
        columns = ["subscription_id", "event_id", "status", "attempts", "next_attempt_at", "created_at"]
        await self.session.execute(WebhookDelivery.__table__.insert().from_select(columns, matches))
        await self.session.execute(update(OutboxEvent).where(OutboxEvent.id.in_(event_ids)).values(dispatched_at=now))
        return len(event_ids)

    async def claim_due(self, *, now: datetime, limit: int, lease: timedelta) -> list[Outgoing]:
        """Due deliveries of active subscriptions, leased so no other run takes them while they are in flight."""
        due = (
            select(
                WebhookDelivery.id,
                WebhookDelivery.attempts,
                WebhookSubscription.url,
                WebhookSubscription.secret,
                OutboxEvent.id,
                OutboxEvent.event_type,
                OutboxEvent.occurred_at,
                OutboxEvent.payload,
            )
            .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
            .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
            .where(
                WebhookDelivery.status.in_(RETRYABLE),
                WebhookDelivery.next_attempt_at <= now,
                WebhookSubscription.active.is_(True),
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
        )
        claimed = [Outgoing(*row) for row in await self.session.execute(skip_locked(self.session, due, of=WebhookDelivery))]
        if claimed:
            await self.session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_([item.delivery_id for item in claimed]))
                .values(next_attempt_at=now + lease)
            )
        return claimed

    async def record_attempts(self, outcomes: list[dict[str, Any]]) -> None:
        """One executemany of per-delivery outcomes (every dict has the same keys, `id` first)."""
        if outcomes:
            await self.session.execute(update(WebhookDelivery), outcomes)
