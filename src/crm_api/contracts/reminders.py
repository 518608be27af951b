"""The daily installment reminder (SPEC §3.13), set-based: each installment of an active contract is announced to
the contract's owner once when due soon, and once when overdue (with an `installment.overdue` event)."""

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.contracts.policy import installments_due_soon, overdue_installments
from crm_api.contracts.repository import ReminderRepository
from crm_api.contracts.schemas import InstallmentOverdue
from crm_api.core.clock import clock, local_today
from crm_api.core.config import Settings
from crm_api.core.outbox import EventType, json_object, publish_selected
from crm_api.core.types import money_text
from crm_api.models.contract import Contract, Installment
from crm_api.notifications import service as notifications
from crm_api.notifications.policy import NotificationType

INSTALLMENT_OVERDUE = EventType(
    "installment.overdue",
    "An installment of an active contract passed its due date with money outstanding (announced once)",
    InstallmentOverdue,
)


async def remind_installments(session: AsyncSession, settings: Settings) -> dict[str, int]:
    """The daily reminder: each installment of an active contract is announced to the contract's owner once when due
    within CRM_INSTALLMENT_DUE_SOON_DAYS, and once when overdue (with an `installment.overdue` event). Marking comes
    first, so what is announced is what was marked, whatever receipts commit meanwhile."""
    today, now = local_today(settings.time_zone), clock.now()
    repo = ReminderRepository(session)
    reminders = (
        (
            "due_soon",
            Installment.due_soon_notified_at,
            installments_due_soon(today, settings.installment_due_soon_days),
            NotificationType.INSTALLMENT_DUE_SOON,
            "回款即将到期",
        ),
        (
            "overdue",
            Installment.overdue_notified_at,
            overdue_installments(today),
            NotificationType.INSTALLMENT_OVERDUE,
            "回款已逾期",
        ),
    )
    counts = {}
    for kind, marker, due, notification_type, title in reminders:
        counts[kind] = await repo.mark(marker, due, now=now)
        if counts[kind]:
            await notifications.notify_selected(session, notification_type, repo.announcements(marker, now, title))
    if counts["overdue"]:
        await publish_selected(
            session,
            event_type=INSTALLMENT_OVERDUE.name,
            entity_type="installment",
            entity_id=Installment.id,
            payload=json_object(
                session,
                id=Installment.id,
                contract_id=Contract.id,
                contract_number=Contract.number,
                owner_id=Contract.owner_id,
                due_date=Installment.due_date,
                amount=money_text(Installment.amount),
                collected=money_text(Installment.collected),
                outstanding=money_text(Installment.amount - Installment.collected),
            ),
            where=repo.marked(Installment.overdue_notified_at, now),
        )
    return counts
