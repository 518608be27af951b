"""Races with real concurrent requests: many requests at once over the ASGI app, each on its own connection."""

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from crm_api.core.config import Settings
from crm_api.core.tables import OutboxEvent
from crm_api.models.platform import AuditEvent

# As many as one worker's pool holds connections: every request of the race is in flight at once.
RACERS = 20


def skip_unless_postgresql(settings: Settings) -> None:
    if settings.is_sqlite:
        pytest.skip("SQLite serialises writers, so there is no race to prove; row locks are PostgreSQL's")


async def race(send: Callable[[int], Awaitable[httpx.Response]], racers: int = RACERS) -> list[httpx.Response]:
    """`racers` requests at once; `send(n)` makes the n-th."""
    return list(await asyncio.gather(*(send(n) for n in range(racers))))


def statuses(responses: list[httpx.Response]) -> Counter[int]:
    return Counter(response.status_code for response in responses)


def losers_codes(responses: list[httpx.Response], winner_status: int = 200) -> set[str]:
    return {response.json()["code"] for response in responses if response.status_code != winner_status}


async def audited(app: FastAPI, entity_type: str, action: str) -> int:
    async with app.state.db.sessionmaker() as session:
        statement = select(func.count()).where(AuditEvent.entity_type == entity_type, AuditEvent.action == action)
        return int(await session.scalar(statement) or 0)


async def published(app: FastAPI, event_type: str) -> int:
    async with app.state.db.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).where(OutboxEvent.event_type == event_type)) or 0)
