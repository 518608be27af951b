"""The daily installment reminder: owners hear once of each installment due soon and once of each overdue one."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.contracts import reminders
from crm_api.core.config import Settings
from crm_api.core.scheduler import register_job

INSTALLMENT_REMINDER = "installment_reminder"


@register_job(INSTALLMENT_REMINDER, cron=lambda s: s.installment_reminder_cron)
async def remind_installments(session: AsyncSession, settings: Settings) -> dict[str, Any]:
    return await reminders.remind_installments(session, settings)
