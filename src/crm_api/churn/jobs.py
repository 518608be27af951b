"""The weekly churn scan, registered with the scheduler (run once across processes by its lock)."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.churn import service
from crm_api.core.config import Settings
from crm_api.core.db import Database
from crm_api.core.scheduler import JOBS, JobOutcome, register_job, run_job

CHURN_SCAN = "churn_scan"


@register_job(CHURN_SCAN, cron=lambda settings: settings.churn_scan_cron)
async def churn_scan(session: AsyncSession, settings: Settings) -> dict[str, Any]:
    return {"opened": await service.scan(session, settings)}


async def run_scan_now(database: Database, settings: Settings) -> JobOutcome:
    """The scan on demand, under the same advisory lock and job-run record as the schedule."""
    return await run_job(database, settings, JOBS[CHURN_SCAN])
