"""The channel dispatcher: due deliveries (email, group robots) claimed, sent, and their outcome recorded.

Sending happens between two short transactions (claim, then record), never inside one; a failure is retried after
the outbox backoff until the delivery is dead.
"""

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_api.core.clock import clock
from crm_api.core.config import Settings
from crm_api.core.outbox import CLAIM_LEASE, retry_at
from crm_api.core.scheduler import register_job
from crm_api.notifications import senders
from crm_api.notifications.policy import NotificationChannel, RobotKind, SmtpSecurity
from crm_api.notifications.repository import DeliveryRepository, Outgoing
from crm_api.webhooks.policy import delivery_status
from crm_api.webhooks.service import resolved_refusal

NOTIFICATION_DISPATCH = "notification_dispatch"
CONCURRENT_SENDS = 10


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int
    security: SmtpSecurity
    username: str | None
    password: str | None
    sender: str


@dataclass(frozen=True)
class Robot:
    url: str
    secret: str | None


@dataclass(frozen=True)
class Targets:
    """The channels' settings as they were when the batch was claimed."""

    smtp: Smtp | None
    robots: dict[RobotKind, Robot]


async def _targets(repo: DeliveryRepository) -> Targets:
    row = await repo.smtp()
    smtp = None
    if row is not None:
        smtp = Smtp(row.host, row.port, SmtpSecurity(row.security), row.username, row.password, row.sender)
    robots = {RobotKind(kind): Robot(r.url, r.secret) for kind, r in (await repo.robots()).items() if r.active}
    return Targets(smtp, robots)


async def _send(http: httpx.AsyncClient, item: Outgoing, targets: Targets, settings: Settings) -> str | None:
    """None when sent, else why not."""
    try:
        if item.channel == NotificationChannel.EMAIL:
            smtp = targets.smtp
            if smtp is None:
                return "no SMTP server is set (PUT /api/v1/settings/smtp)"
            refusal = await resolved_refusal(smtp.host, settings)
            if refusal is not None:
                return f"refused: {refusal}"
            message = senders.email_message(
                sender=smtp.sender, to=item.recipient, subject=item.subject, body=item.body, html=item.html
            )
            await senders.send_email(
                host=smtp.host,
                port=smtp.port,
                security=smtp.security,
                username=smtp.username,
                password=smtp.password,
                message=message,
                timeout_seconds=settings.webhook_timeout_seconds,
            )
            return None
        kind = RobotKind(item.channel)
        robot = targets.robots.get(kind)
        if robot is None:
            return f"no active {kind} robot is set (PUT /api/v1/notification-channels/{kind})"
        refusal = await resolved_refusal(httpx.URL(robot.url).host, settings)
        if refusal is not None:
            return f"refused: {refusal}"
        text = f"{item.subject}\n{item.body}\n@{item.recipient}"
        await senders.post_to_robot(http, kind, robot.url, robot.secret, text, now=clock.now().timestamp())
    except senders.SendFailed as exc:
        return str(exc)
    return None


def _outcome(item: Outgoing, error: str | None, now: Any) -> dict[str, Any]:
    attempts = item.attempts + 1
    next_attempt_at = None if error is None else retry_at(attempts, now)
    return {
        "id": item.delivery_id,
        "status": delivery_status(succeeded=error is None, next_attempt_at=next_attempt_at),
        "attempts": attempts,
        "next_attempt_at": next_attempt_at,
        "last_attempt_at": now,
        "last_error": error,
        "delivered_at": now if error is None else None,
    }


async def dispatch(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> dict[str, int]:
    async with sessionmaker() as session, session.begin():
        repo = DeliveryRepository(session)
        claimed = await repo.claim_due(now=clock.now(), limit=settings.webhook_batch_size, lease=CLAIM_LEASE)
        targets = await _targets(repo) if claimed else Targets(None, {})
    if not claimed:
        return {"sent": 0, "succeeded": 0}
    gate = asyncio.Semaphore(CONCURRENT_SENDS)

    async def send(http: httpx.AsyncClient, item: Outgoing) -> str | None:
        async with gate:
            return await _send(http, item, targets, settings)

    async with httpx.AsyncClient(timeout=settings.webhook_timeout_seconds) as http:
        errors = await asyncio.gather(*(send(http, item) for item in claimed))
    now = clock.now()
    async with sessionmaker() as session, session.begin():
        await DeliveryRepository(session).record_attempts([_outcome(i, e, now) for i, e in zip(claimed, errors, strict=True)])
    return {"sent": len(claimed), "succeeded": sum(error is None for error in errors)}


@register_job(NOTIFICATION_DISPATCH, cron=lambda settings: settings.notification_dispatch_cron)
async def notification_dispatch(session: AsyncSession, settings: Settings) -> dict[str, int]:
    # The job's own session only holds the run lock; the work uses short sessions of its own.
    assert session.bind is not None
    return await dispatch(async_sessionmaker(session.bind, expire_on_commit=False, autoflush=False), settings)
