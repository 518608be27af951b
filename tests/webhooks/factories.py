"""Webhook subscriptions through the API, and the outbox and deliveries read straight from the database."""

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from crm_api.core.tables import OutboxEvent
from crm_api.models.webhook import WebhookDelivery
from tests.factories import Actor

URL = "/api/v1/webhooks"
RECEIVER = "http://127.0.0.1:9/hooks/crm"


async def create_webhook(client: httpx.AsyncClient, admin: Actor, **overrides: Any) -> dict[str, Any]:
    body = {"url": RECEIVER, "event_types": ["opportunity.won"]} | overrides
    response = await client.post(URL, json=body, headers=admin.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def outbox(app: FastAPI, event_type: str | None = None) -> list[OutboxEvent]:
    async with app.state.db.sessionmaker() as session:
        statement = select(OutboxEvent).order_by(OutboxEvent.id)
        if event_type is not None:
            statement = statement.where(OutboxEvent.event_type == event_type)
        return list((await session.scalars(statement)).all())


async def deliveries(app: FastAPI) -> list[WebhookDelivery]:
    async with app.state.db.sessionmaker() as session:
        return list((await session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))).unique().all())
