"""Opportunities through the API, in whichever status a test needs."""

from itertools import count
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from tests.factories import Actor

API = "/api/v1/opportunities"
# Each opportunity is for a company of its own unless a test names it: a win makes the customer, and the duplicate
# guard refuses a second customer of one name.
_SERIAL = count(1)


def opportunity_body(**overrides: Any) -> dict[str, Any]:
    return {
        "customer_name": f"上海明达{next(_SERIAL)}号机械有限公司",
        "success_probability": 60,
        "summary": "Replace the packaging line",
        "contact_name": "王强",
        "contact_phone": "13800138000",
        "description": "Two lines, delivery before spring",
        "expected_amount": "120000.00",
        "source": "trade_show",
    } | overrides


async def create_opportunity(client: httpx.AsyncClient, creator: Actor, **overrides: Any) -> dict[str, Any]:
    response = await client.post(API, json=opportunity_body(**overrides), headers=creator.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def assign(client: httpx.AsyncClient, supervisor: Actor, opportunity_id: int, assignee: Actor) -> httpx.Response:
    return await client.post(f"{API}/{opportunity_id}/assign", json={"assignee_id": assignee.id}, headers=supervisor.headers)


async def opportunity_in(
    client: httpx.AsyncClient, status: str, *, creator: Actor, supervisor: Actor, assignee: Actor, **overrides: Any
) -> dict[str, Any]:
    """An opportunity driven through the real transitions up to `status`."""
    opportunity = await create_opportunity(client, creator, **overrides)
    if status == "unassigned":
        return opportunity
    response = await assign(client, supervisor, opportunity["id"], assignee)
    assert response.status_code == 200, response.text
    if status in {"won", "lost"}:
        action = "win" if status == "won" else "lose"
        response = await client.post(f"{API}/{opportunity['id']}/{action}", headers=assignee.headers)
        assert response.status_code == 200, response.text
        return response.json()["opportunity"] if status == "won" else response.json()
    return response.json()


async def count_rows(app: FastAPI, model: type) -> int:
    async with app.state.db.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)
