from typing import Annotated

from fastapi import Depends, Response, status

from crm_api.core.auth import require
from crm_api.core.config import SettingsDep
from crm_api.core.db import SessionDep
from crm_api.core.http import ETag, IfMatch, with_etag
from crm_api.core.pagination import Page, PageParams, listing
from crm_api.core.permissions import Principal
from crm_api.core.responses import raises
from crm_api.core.routing import DomainRouter
from crm_api.core.schemas import Id
from crm_api.webhooks import service
from crm_api.webhooks.policy import DeliveryStatus
from crm_api.webhooks.schemas import (
    EventTypeRead,
    WebhookCreate,
    WebhookCreated,
    WebhookDeliveryRead,
    WebhookRead,
    WebhookUpdate,
)

router = DomainRouter(prefix="/webhooks", tags=["webhooks"])

WebhooksWrite = Annotated[Principal, Depends(require("webhooks:write"))]


@router.get(
    "/event-types",
    response_model=list[EventTypeRead],
    summary="The event types a webhook can subscribe to",
)
async def list_event_types(_: WebhooksWrite) -> list[EventTypeRead]:
    return service.event_types()


WebhookPage = Annotated[PageParams, listing("WebhookSort", "url", "created_at", "updated_at")]


@router.get("", response_model=Page[WebhookRead], summary="List webhook subscriptions")
async def list_webhooks(
    _: WebhooksWrite, session: SessionDep, page: WebhookPage, active: bool | None = None
) -> Page[WebhookRead]:
    return await service.list_subscriptions(session, page, active=active)


@router.post(
    "",
    response_model=WebhookCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Subscribe a URL to events (the signing secret is in this response only)",
)
@raises("webhook.unknown_event_type", "webhook.url_not_allowed")
async def create_webhook(
    body: WebhookCreate, principal: WebhooksWrite, session: SessionDep, settings: SettingsDep
) -> WebhookCreated:
    return await service.create(session, principal, settings, body)


@router.post(
    "/deliveries/{delivery_id}/retry",
    response_model=WebhookDeliveryRead,
    summary="Attempt a failed or dead delivery again at the next dispatcher run",
)
@raises("webhook_delivery.not_found", "webhook_delivery.succeeded")
async def retry_delivery(delivery_id: Id, principal: WebhooksWrite, session: SessionDep) -> WebhookDeliveryRead:
    return WebhookDeliveryRead.model_validate(await service.retry_delivery(session, principal, delivery_id))


@router.get("/{webhook_id}", response_model=WebhookRead, summary="Read a webhook subscription")
async def get_webhook(webhook_id: Id, _: WebhooksWrite, session: SessionDep, etag: ETag) -> WebhookRead:
    return etag(WebhookRead.model_validate(await service.get(session, webhook_id)))


@router.patch(
    "/{webhook_id}",
    response_model=WebhookRead,
    summary="Change a webhook's URL, events, secret or active flag",
)
@raises("webhook.unknown_event_type", "webhook.url_not_allowed")
async def update_webhook(
    webhook_id: Id,
    body: WebhookUpdate,
    principal: WebhooksWrite,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
    if_match: IfMatch = None,
) -> WebhookRead:
    subscription = await service.update(session, principal, settings, webhook_id, body, if_match=if_match)
    return with_etag(response, WebhookRead.model_validate(subscription))


@router.delete(
    "/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a webhook subscription and its delivery log",
)
async def delete_webhook(webhook_id: Id, principal: WebhooksWrite, session: SessionDep) -> None:
    await service.delete(session, principal, webhook_id)


DeliveryPage = Annotated[PageParams, listing("DeliverySort", "created_at")]


@router.get(
    "/{webhook_id}/deliveries",
    response_model=Page[WebhookDeliveryRead],
    summary="The webhook's delivery log, newest first",
)
async def list_deliveries(
    webhook_id: Id, _: WebhooksWrite, session: SessionDep, page: DeliveryPage, status: DeliveryStatus | None = None
) -> Page[WebhookDeliveryRead]:
    return await service.list_deliveries(session, webhook_id, page, status=status)


@router.post(
    "/{webhook_id}/test",
    response_model=WebhookDeliveryRead,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Queue a webhook.test event for this subscription only",
)
@raises("webhook.inactive")
async def test_webhook(webhook_id: Id, principal: WebhooksWrite, session: SessionDep) -> WebhookDeliveryRead:
    return WebhookDeliveryRead.model_validate(await service.send_test(session, principal, webhook_id))
