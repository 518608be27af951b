"""A demo webhook subscription, inactive so a demo never calls out. Idempotent."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.security import new_secret
from crm_api.models.identity import User
from crm_api.models.webhook import WebhookSubscription, WebhookSubscriptionEvent

DEMO_WEBHOOK_URL = "https://hooks.example.com/crm"
DEMO_EVENTS = ("opportunity.won", "ticket.archived", "churn_warning.opened")


async def seed_webhooks(session: AsyncSession, users: dict[str, User]) -> None:
    if await session.scalar(select(WebhookSubscription.id).where(WebhookSubscription.url == DEMO_WEBHOOK_URL)) is not None:
        return
    session.add(
        WebhookSubscription(
            url=DEMO_WEBHOOK_URL,
            description="ERP notifications (demo: activate after pointing it at a real receiver)",
            secret=new_secret("whsec"),
            active=False,
            created_by_id=users["admin"].id,
            events=[WebhookSubscriptionEvent(event_type=name) for name in DEMO_EVENTS],
        )
    )
    await session.flush()
