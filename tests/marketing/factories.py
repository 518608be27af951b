"""Customers, contacts, orders and wins straight in the database (other domains own their endpoints); segments,
campaigns and touches through the marketing API."""

import itertools
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import httpx
from fastapi import FastAPI

from crm_api.core.clock import clock
from crm_api.models.customer import Contact, Customer, CustomerTag
from crm_api.models.pipeline import Opportunity
from crm_api.models.sales import Order
from tests.factories import Actor

SEGMENTS = "/api/v1/segments"
CAMPAIGNS = "/api/v1/campaigns"
_serial = itertools.count(1)


async def make_customer(
    app: FastAPI,
    owner_id: int,
    *,
    name: str | None = None,
    tags: tuple[str, ...] = (),
    deleted: bool = False,
    **fields: Any,
) -> int:
    number = next(_serial)
    async with app.state.db.sessionmaker() as session, session.begin():
        customer = Customer(
            code=f"KHM{number:05d}",
            name=name or f"营销客户{number}有限公司",
            owner_id=owner_id,
            deleted_at=clock.now() if deleted else None,
            **fields,
        )
        session.add(customer)
        await session.flush()
        session.add_all(CustomerTag(customer_id=customer.id, tag=tag) for tag in tags)
        return customer.id


async def make_contact(app: FastAPI, customer_id: int, *, consent: bool = True, name: str | None = None) -> int:
    number = next(_serial)
    async with app.state.db.sessionmaker() as session, session.begin():
        contact = Contact(
            customer_id=customer_id,
            name=name or f"联系人{number}",
            gender="female",
            title="经理",
            office_phone="021-62345678",
            email=f"c{number}@example.com",
            marketing_consent=consent,
        )
        session.add(contact)
        await session.flush()
        return contact.id


async def make_order(app: FastAPI, customer_id: int, order_date: date, total: str, *, status: int = 6) -> int:
    number = next(_serial)
    async with app.state.db.sessionmaker() as session, session.begin():
        order = Order(
            external_id=f"mkt-{number}",
            number=f"SOM{number:06d}",
            customer_id=customer_id,
            order_date=order_date,
            status=status,
            total=Decimal(total),
        )
        session.add(order)
        await session.flush()
        return order.id


async def make_won_opportunity(app: FastAPI, customer_id: int, creator_id: int, amount: str, closed_at: datetime) -> int:
    number = next(_serial)
    async with app.state.db.sessionmaker() as session, session.begin():
        opportunity = Opportunity(
            code=f"JH{number:06d}",
            customer_name="赢单客户",
            success_probability=100,
            summary="won",
            description="won",
            expected_amount=Decimal(amount),
            stage="initial_contact",
            status="won",
            created_by_id=creator_id,
            assignee_id=creator_id,
            closed_at=closed_at,
            customer_id=customer_id,
        )
        session.add(opportunity)
        await session.flush()
        return opportunity.id


async def create_segment(client: httpx.AsyncClient, actor: Actor, name: str | None = None, **filters: Any) -> dict[str, Any]:
    body = {"name": name or f"segment {next(_serial)}", "filters": filters}
    response = await client.post(SEGMENTS, json=body, headers=actor.headers)
    assert response.status_code == 201, response.text
    return response.json()


def campaign_body(**fields: Any) -> dict[str, Any]:
    return {
        "name": "618 年中促销",
        "goal": "Win back quiet customers",
        "budget": "1000.00",
        "starts_on": "2026-06-01",
        "ends_on": "2026-06-30",
        "channel": "email",
    } | fields


async def create_campaign(client: httpx.AsyncClient, actor: Actor, **fields: Any) -> dict[str, Any]:
    response = await client.post(CAMPAIGNS, json=campaign_body(**fields), headers=actor.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def act(client: httpx.AsyncClient, actor: Actor, campaign_id: int, action: str) -> httpx.Response:
    return await client.post(f"{CAMPAIGNS}/{campaign_id}/{action}", headers=actor.headers)


async def running_campaign(client: httpx.AsyncClient, actor: Actor, segment_id: int, **fields: Any) -> dict[str, Any]:
    campaign = await create_campaign(client, actor, segment_id=segment_id, **fields)
    for action in ("schedule", "start"):
        response = await act(client, actor, campaign["id"], action)
        assert response.status_code == 200, response.text
    return response.json()


async def touch(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    campaign_id: int,
    contact_id: int,
    kind: str = "sent",
    at: datetime | None = None,
    **fields: Any,
) -> httpx.Response:
    body = {"contact_id": contact_id, "kind": kind} | ({"at": at.isoformat()} if at else {}) | fields
    return await client.post(f"{CAMPAIGNS}/{campaign_id}/touches", json=body, headers=headers)


# The transitions that bring a new campaign to each status.
PATH_TO = {
    "draft": [],
    "scheduled": ["schedule"],
    "running": ["schedule", "start"],
    "done": ["schedule", "start", "finish"],
    "cancelled": ["cancel"],
}


async def campaign_in(client: httpx.AsyncClient, marketer: Actor, segment_id: int, status: str) -> dict[str, Any]:
    """A campaign with an audience, moved to `status` by `marketer`."""
    campaign = await create_campaign(client, marketer, segment_id=segment_id)
    for action in PATH_TO[status]:
        response = await act(client, marketer, campaign["id"], action)
        assert response.status_code == 200, response.text
        campaign = response.json()
    return campaign
