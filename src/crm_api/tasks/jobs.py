"""The daily follow-up reminder: customers nobody has contacted for N days get a task for their owner."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.config import Settings
from crm_api.core.scheduler import register_job
from crm_api.tasks import service

FOLLOW_UP_REMINDERS = "follow_up_reminders"


@register_job(FOLLOW_UP_REMINDERS, cron=lambda s: "0 8 * * *")
async def follow_up_reminders(session: AsyncSession, settings: Settings) -> dict[str, Any]:
    return {"opened": await service.open_follow_ups(session, settings)}
