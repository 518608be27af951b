"""The nightly RFM refresh, registered with the scheduler (run once across processes by its lock)."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.config import Settings
from crm_api.core.db import Database
from crm_api.core.scheduler import JOBS, JobOutcome, register_job, run_job
from crm_api.marketing import service

RFM_REFRESH = "rfm_refresh"


@register_job(RFM_REFRESH, cron=lambda settings: "30 1 * * *")
async def rfm_refresh(session: AsyncSession, settings: Settings) -> dict[str, Any]:
    return {"scored": await service.refresh_rfm(session, settings)}


async def run_refresh_now(database: Database, settings: Settings) -> JobOutcome:
    return await run_job(database, settings, JOBS[RFM_REFRESH])
