"""The nightly prune of the change log: changes older than CRM_SYNC_LOG_RETENTION_DAYS go."""

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core import changes
from crm_api.core.clock import clock
from crm_api.core.config import Settings
from crm_api.core.scheduler import register_job

SYNC_LOG_PRUNE = "sync_log_prune"


@register_job(SYNC_LOG_PRUNE, cron=lambda s: "45 3 * * *")
async def prune_change_log(session: AsyncSession, settings: Settings) -> dict[str, Any]:
    before = clock.now() - timedelta(days=settings.sync_log_retention_days)
    return {"removed": await changes.prune(session, before=before)}
