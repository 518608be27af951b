"""The daily pool recycle, registered with the scheduler (run once across processes by its lock)."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.config import Settings
from crm_api.core.scheduler import register_job
from crm_api.customers import pool

POOL_RECYCLE = "pool_recycle"


@register_job(POOL_RECYCLE, cron=lambda settings: settings.pool_recycle_cron)
async def pool_recycle(session: AsyncSession, settings: Settings) -> dict[str, Any]:
    return await pool.recycle(session, settings)
