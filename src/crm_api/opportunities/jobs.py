"""The daily stall check: assigned opportunities whose stage has not moved for N days remind their assignee."""

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.clock import clock
from crm_api.core.config import Settings
from crm_api.core.scheduler import register_job
from crm_api.notifications import service as notifications
from crm_api.notifications.policy import NotificationType
from crm_api.opportunities.repository import ReminderRepository


@register_job("opportunity_stall", cron=lambda s: s.opportunity_stall_cron)
async def raise_stall_reminders(session: AsyncSession, settings: Settings) -> dict[str, Any]:
    now = clock.now()
    days = settings.opportunity_stall_days
    reminders = ReminderRepository(session)
    last_id = await reminders.last_id()
    raised = await reminders.raise_stall_reminders(now=now, unchanged_since=now - timedelta(days=days), days=days)
    notified = await notifications.notify_selected(
        session, NotificationType.STALL_WARNING, reminders.stall_reminders_raised(after_id=last_id)
    )
    return {"reminders_raised": raised, "notified": notified}
