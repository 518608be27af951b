"""Every Monday 08:00 business time (CRM_WEEKLY_REPORT_CRON): the supervisors' weekly reports."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.config import Settings
from crm_api.core.scheduler import register_job
from crm_api.read.weekly_report.service import send_weekly_reports

WEEKLY_REPORT = "weekly_report"


@register_job(WEEKLY_REPORT, cron=lambda s: s.weekly_report_cron)
async def weekly_report(session: AsyncSession, settings: Settings) -> dict[str, Any]:
    return {"sent": await send_weekly_reports(session, settings)}
