"""Tasks made through the API, as a user would, and tasks straight in the database."""

from datetime import date
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from crm_api.models.collaboration import Task
from crm_api.models.customer import Interaction
from tests.factories import Actor

BASE = "/api/v1/tasks"


async def create_task(client: httpx.AsyncClient, actor: Actor, **fields: Any) -> dict[str, Any]:
    body = {"title": "给客户回电话确认报价", "due_at": "2026-06-20T02:00:00Z"} | fields
    response = await client.post(BASE, json=body, headers=actor.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def all_tasks(app: FastAPI) -> list[Task]:
    async with app.state.db.sessionmaker() as session:
        return list((await session.scalars(select(Task).order_by(Task.id))).all())


async def make_interaction(app: FastAPI, customer_id: int, occurred_on: date) -> None:
    async with app.state.db.sessionmaker() as session, session.begin():
        session.add(
            Interaction(
                customer_id=customer_id, occurred_on=occurred_on, location="电话", summary="回访", details="确认了交货时间"
            )
        )
