"""The webhook dispatcher: outbox events fanned out to subscriptions, then due deliveries sent and recorded.

HTTP calls happen between two short transactions (claim, then record), never inside one.
"""

import asyncio
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_api.core.clock import clock
from crm_api.core.config import Settings
from crm_api.core.outbox import CLAIM_LEASE, retry_at
from crm_api.core.scheduler import register_job
from crm_api.webhooks.policy import delivery_status
from crm_api.webhooks.repository import DeliveryRepository, Outgoing
from crm_api.webhooks.service import resolved_refusal

WEBHOOK_DISPATCH = "webhook_dispatch"
CONCURRENT_SENDS = 10
ERROR_LENGTH = 500


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-CRM-Signature` value: HMAC-SHA256 of "{t}.{body}" with the subscription secret."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def body_of(item: Outgoing) -> bytes:
    document = {"id": item.event_id, "type": item.event_type, "occurred_at": item.occurred_at.isoformat(), "data": item.payload}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Attempt:
    status_code: int | None
    error: str | None
    response_ms: int | None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def _send(http: httpx.AsyncClient, item: Outgoing, settings: Settings) -> Attempt:
    refusal = await resolved_refusal(httpx.URL(item.url).host, settings)
    if refusal is not None:
        return Attempt(None, f"refused: {refusal}", None)
    body = body_of(item)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "crm-api-webhooks/1",
        "X-CRM-Event": item.event_type,
        "X-CRM-Delivery": str(item.delivery_id),
        "X-CRM-Signature": signature(item.secret, int(clock.now().timestamp()), body),
    }
    started = time.perf_counter()
    try:
        response = await http.post(item.url, content=body, headers=headers)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return Attempt(None, f"{type(exc).__name__}: {exc}"[:ERROR_LENGTH], None)
    elapsed = round((time.perf_counter() - started) * 1000)
    error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    return Attempt(response.status_code, error, elapsed)


def outcome(item: Outgoing, attempt: Attempt, now: datetime) -> dict[str, Any]:
    """The delivery's new state after one attempt: succeeded, retried after the backoff, or dead."""
    attempts = item.attempts + 1
    next_attempt_at = None if attempt.succeeded else retry_at(attempts, now)
    status = delivery_status(succeeded=attempt.succeeded, next_attempt_at=next_attempt_at)
    return {
        "id": item.delivery_id,
        "status": status,
        "attempts": attempts,
        "next_attempt_at": next_attempt_at,
        "last_attempt_at": now,
        "last_status_code": attempt.status_code,
        "last_error": attempt.error,
        "last_response_ms": attempt.response_ms,
        "delivered_at": now if attempt.succeeded else None,
    }


async def dispatch(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
) -> dict[str, int]:
    """One run: fan out, claim a bounded batch, send it, record it. `transport` lets tests stand in for the network."""
    async with sessionmaker() as session, session.begin():
        repo = DeliveryRepository(session)
        now = clock.now()
        fanned_out = await repo.fan_out(now=now, limit=settings.webhook_batch_size * 10)
        claimed = await repo.claim_due(now=now, limit=settings.webhook_batch_size, lease=CLAIM_LEASE)
    if not claimed:
        return {"events": fanned_out, "sent": 0, "succeeded": 0}
    gate = asyncio.Semaphore(CONCURRENT_SENDS)

    async def send(http: httpx.AsyncClient, item: Outgoing) -> Attempt:
        async with gate:
            return await _send(http, item, settings)

    async with httpx.AsyncClient(transport=transport, timeout=settings.webhook_timeout_seconds) as http:
        attempts = await asyncio.gather(*(send(http, item) for item in claimed))
    now = clock.now()
    async with sessionmaker() as session, session.begin():
        await DeliveryRepository(session).record_attempts([outcome(i, a, now) for i, a in zip(claimed, attempts, strict=True)])
    return {"events": fanned_out, "sent": len(claimed), "succeeded": sum(a.succeeded for a in attempts)}


@register_job(WEBHOOK_DISPATCH, cron=lambda settings: settings.webhook_dispatch_cron)
async def webhook_dispatch(session: AsyncSession, settings: Settings) -> dict[str, int]:
    # The job's own session only holds the run lock; the work uses short sessions of its own.
    assert session.bind is not None
    return await dispatch(async_sessionmaker(session.bind, expire_on_commit=False, autoflush=False), settings)
