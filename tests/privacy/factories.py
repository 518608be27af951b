"""Orders straight in the database and a custom role holding privacy:erase at a narrower scope."""

from datetime import date
from decimal import Decimal

import httpx
from fastapi import FastAPI

from crm_api.models.sales import Order
from tests.factories import Actor, Actors


async def make_order(app: FastAPI, customer_id: int, total: str, number: str) -> None:
    async with app.state.db.sessionmaker() as session, session.begin():
        session.add(
            Order(
                external_id=number,
                number=number,
                customer_id=customer_id,
                order_date=date(2026, 5, 1),
                shipping_address="上海市浦东新区世纪大道1号",
                status=5,
                total=Decimal(total),
            )
        )


async def privacy_officer(client: httpx.AsyncClient, actors: Actors, admin: Actor, *, team: str) -> Actor:
    """A user whose role may erase only their own customers (so that scope can be tested)."""
    grants = [{"permission": p, "scope": "own"} for p in ("customers:read", "customers:write", "privacy:erase")]
    response = await client.post(
        "/api/v1/roles", json={"code": "privacy_officer", "name": "Privacy officer", "permissions": grants}, headers=admin.headers
    )
    assert response.status_code == 201, response.text
    return await actors.make("privacy_officer", team=team)
