"""The SLA watch: a ticket past a due time, not yet archived, notifies its assignee (its creator while unassigned) once."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.clock import clock
from crm_api.core.config import Settings
from crm_api.core.scheduler import register_job
from crm_api.notifications import service as notifications
from crm_api.notifications.policy import NotificationType
from crm_api.tickets.repository import TicketRepository

TICKET_SLA_BREACH = "ticket_sla_breach"


@register_job(TICKET_SLA_BREACH, cron=lambda s: s.ticket_sla_check_cron)
async def notify_sla_breaches(session: AsyncSession, settings: Settings) -> dict[str, Any]:
    breached = TicketRepository(session).breached_open(clock.now())
    return {"notified": await notifications.notify_selected(session, NotificationType.SLA_BREACH, breached, once_per_record=True)}
