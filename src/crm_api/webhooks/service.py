"""Webhook subscriptions: which events go where, the SSRF rule on their URLs, and the delivery log."""

import asyncio
import ipaddress
import socket

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.approvals import service as approvals
from crm_api.churn import service as churn
from crm_api.contracts import reminders as installment_reminders
from crm_api.contracts import service as contracts
from crm_api.core import audit
from crm_api.core.clock import clock
from crm_api.core.config import Settings
from crm_api.core.errors import Conflict, InvalidInput, NotFound
from crm_api.core.http import check_if_match
from crm_api.core.outbox import EventType
from crm_api.core.pagination import Page, PageParams, Sort
from crm_api.core.permissions import Principal
from crm_api.core.security import new_secret
from crm_api.core.tables import OutboxEvent
from crm_api.customers import pool
from crm_api.customers import service as customers
from crm_api.leads import service as leads
from crm_api.models.webhook import WebhookDelivery, WebhookSubscription, WebhookSubscriptionEvent
from crm_api.opportunities import service as opportunities
from crm_api.quotes import service as quotes
from crm_api.tickets import service as tickets
from crm_api.webhooks.policy import DeliveryStatus
from crm_api.webhooks.repository import DeliveryRepository, WebhookRepository
from crm_api.webhooks.schemas import (
    EventTypeRead,
    WebhookCreate,
    WebhookCreated,
    WebhookDeliveryRead,
    WebhookRead,
    WebhookUpdate,
)

# The events a subscription may ask for, as the domains publish them through core.outbox.
CATALOGUE: dict[str, EventType] = {
    event.name: event
    for event in [
        *customers.CUSTOMER_EVENTS.types(),
        customers.CLAIMED,
        customers.RELEASED,
        pool.RECYCLED,
        *customers.CONTACTS.events.types(),
        *customers.INTERACTIONS.events.types(),
        *leads.EVENTS.types(),
        *opportunities.EVENTS.types(),
        opportunities.WON,
        opportunities.LOST,
        *tickets.EVENTS.types(),
        tickets.ARCHIVED,
        churn.OPENED,
        churn.CONFIRMED,
        approvals.REQUESTED,
        approvals.DECIDED,
        *quotes.EVENTS.types(),
        quotes.APPROVED,
        *contracts.EVENTS.types(),
        contracts.ACTIVATED,
        contracts.PAYMENT_RECEIVED,
        installment_reminders.INSTALLMENT_OVERDUE,
    ]
}
# Sent only to one subscription, on request.
TEST_EVENT = "webhook.test"

LOCAL_HOST_NAMES = ("localhost", "localhost.localdomain")


def event_types() -> list[EventTypeRead]:
    return [
        EventTypeRead(type=event.name, description=event.description, payload_schema=event.json_schema())
        for event in CATALOGUE.values()
    ]


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def host_refusal(host: str, settings: Settings) -> str | None:
    """Why a webhook may not be sent to `host` (loopback, private, link-local…), or None.

    Names are judged again on their resolved addresses when sending (see jobs), so DNS cannot smuggle one in.
    """
    if settings.private_targets_allowed:
        return None
    name = host.strip("[]").rstrip(".").lower()
    if name in LOCAL_HOST_NAMES or name.endswith(".localhost"):
        return f"{host} is a local host name"
    try:
        public = is_public_address(name)
    except ValueError:
        return None  # a host name: checked on its addresses at send time
    return None if public else f"{host} is not a public address"


def _ensure_allowed_url(url: str, host: str | None, settings: Settings) -> None:
    refusal = "the URL has no host" if not host else host_refusal(host, settings)
    if refusal is not None:
        raise InvalidInput("url", f"Webhooks cannot be sent to {url}: {refusal}", code="webhook.url_not_allowed")


def _ensure_event_types(types: list[str]) -> list[str]:
    unknown = sorted(set(types) - CATALOGUE.keys())
    if unknown:
        raise InvalidInput(
            "event_types",
            f"Unknown event types: {', '.join(unknown)}; see GET /webhooks/event-types",
            code="webhook.unknown_event_type",
        )
    return sorted(set(types))


def _snapshot(subscription: WebhookSubscription) -> audit.Snapshot:
    return audit.snapshot(subscription) | {"event_types": subscription.event_types}


async def get(session: AsyncSession, subscription_id: int) -> WebhookSubscription:
    subscription = await WebhookRepository(session).get(subscription_id)
    if subscription is None:
        raise NotFound("Webhook", subscription_id)
    return subscription


async def list_subscriptions(session: AsyncSession, params: PageParams, *, active: bool | None) -> Page[WebhookRead]:
    repo = WebhookRepository(session)
    statement = repo.select()
    if active is not None:
        statement = statement.where(WebhookSubscription.active.is_(active))
    items, next_cursor, total = await repo.page(statement, params)
    return Page(items=[WebhookRead.model_validate(s) for s in items], next_cursor=next_cursor, total=total)


async def create(session: AsyncSession, actor: Principal, settings: Settings, data: WebhookCreate) -> WebhookCreated:
    _ensure_allowed_url(str(data.url), data.url.host, settings)
    secret = data.secret or new_secret("whsec")
    subscription = WebhookSubscription(
        url=str(data.url),
        description=data.description,
        secret=secret,
        active=data.active,
        created_by_id=actor.user_id,
        events=[WebhookSubscriptionEvent(event_type=name) for name in _ensure_event_types(data.event_types)],
    )
    session.add(subscription)
    await audit.record_change(
        session, actor=actor, entity_type="webhook", entity=subscription, action="create", before=None, view=_snapshot
    )
    return WebhookCreated(**WebhookRead.model_validate(subscription).model_dump(), secret=secret)


async def update(
    session: AsyncSession,
    actor: Principal,
    settings: Settings,
    subscription_id: int,
    data: WebhookUpdate,
    *,
    if_match: str | None,
) -> WebhookSubscription:
    subscription = await get(session, subscription_id)
    check_if_match(if_match, subscription)
    before = _snapshot(subscription)
    changes = data.changes()
    if data.url is not None:
        _ensure_allowed_url(str(data.url), data.url.host, settings)
        changes["url"] = str(data.url)
    if "event_types" in changes:
        wanted = _ensure_event_types(changes.pop("event_types"))
        subscription.events = [e for e in subscription.events if e.event_type in wanted] + [
            WebhookSubscriptionEvent(event_type=name) for name in wanted if name not in subscription.event_types
        ]
    for field, value in changes.items():
        setattr(subscription, field, value)
    subscription.updated_at = clock.now()
    await audit.record_change(
        session, actor=actor, entity_type="webhook", entity=subscription, action="update", before=before, view=_snapshot
    )
    return subscription


async def delete(session: AsyncSession, actor: Principal, subscription_id: int) -> None:
    """The subscription and its delivery log go; the events stay in the outbox."""
    subscription = await get(session, subscription_id)
    await audit.delete_recorded(session, actor=actor, entity_type="webhook", entity=subscription, view=_snapshot)


async def list_deliveries(
    session: AsyncSession, subscription_id: int, params: PageParams, *, status: str | None
) -> Page[WebhookDeliveryRead]:
    subscription = await get(session, subscription_id)
    repo = DeliveryRepository(session)
    items, next_cursor, total = await repo.page(repo.of_subscription(subscription.id, status), params, Sort([WebhookDelivery.id]))
    return Page(items=[WebhookDeliveryRead.model_validate(d) for d in items], next_cursor=next_cursor, total=total)


async def send_test(session: AsyncSession, actor: Principal, subscription_id: int) -> WebhookDelivery:
    """A `webhook.test` event queued for this subscription only (sent by the next dispatcher run)."""
    subscription = await get(session, subscription_id)
    if not subscription.active:
        raise Conflict("The webhook is inactive: activate it first", code="webhook.inactive")
    now = clock.now()
    event = OutboxEvent(
        event_type=TEST_EVENT,
        entity_type="webhook",
        entity_id=str(subscription.id),
        payload={"webhook_id": subscription.id, "requested_by": actor.label},
        occurred_at=now,
        dispatched_at=now,
    )
    delivery = WebhookDelivery(subscription_id=subscription.id, event=event, next_attempt_at=now, created_at=now)
    session.add(delivery)
    await audit.record_follow_up(
        session, actor=actor, entity_type="webhook", entity=subscription, action="test", made_type="delivery", made=delivery
    )
    return delivery


async def retry_delivery(session: AsyncSession, actor: Principal, delivery_id: int) -> WebhookDelivery:
    """One more attempt now; a dead delivery that fails again is dead again."""
    delivery = await DeliveryRepository(session).get(delivery_id)
    if delivery is None:
        raise NotFound("Webhook delivery", delivery_id)
    if delivery.status == DeliveryStatus.SUCCEEDED:
        raise Conflict("The delivery has already succeeded", code="webhook_delivery.succeeded")
    before = audit.snapshot(delivery)
    delivery.status, delivery.next_attempt_at = DeliveryStatus.PENDING, clock.now()
    await audit.record_change(
        session, actor=actor, entity_type="webhook_delivery", entity=delivery, action="retry", before=before
    )
    return delivery


async def resolve(host: str) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def resolved_refusal(host: str, settings: Settings) -> str | None:
    """`host_refusal`, and a host name that resolves to a non-public address is refused too (checked per attempt:
    DNS may change). Every outbound target goes through it: webhooks, group robots, the SMTP server."""
    refusal = host_refusal(host, settings)
    if refusal is not None or settings.private_targets_allowed:
        return refusal
    try:
        addresses = await resolve(host)
    except OSError as exc:
        return f"cannot resolve {host}: {exc}"
    private = sorted({address for address in addresses if not is_public_address(address)})
    return f"{host} resolves to a non-public address {', '.join(private)}" if private else None
