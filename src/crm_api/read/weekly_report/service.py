"""The weekly report (seed 001 周报): every Monday each sales supervisor gets their team's last week as a
notification and an HTML email, counted under their own report scope so the numbers are the reports'."""

import html
from dataclasses import dataclass, fields
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth.principal import principal_for_user
from crm_api.core.clock import local_today
from crm_api.core.config import Settings
from crm_api.core.permissions import Principal
from crm_api.notifications import service as notifications
from crm_api.notifications.policy import DeliveryPurpose, NotificationType
from crm_api.read.reports import pipeline
from crm_api.read.reports.periods import utc_bounds
from crm_api.read.reports.service import money_from_cents
from crm_api.read.weekly_report.repository import WeekRepository, supervisors


@dataclass(frozen=True)
class TeamWeek:
    """A team's week, with the label each figure is shown under."""

    new_customers: int
    interactions: int
    opportunities_assigned: int
    opportunities_won: int
    opportunities_lost: int
    revenue: Decimal
    tickets_archived: int
    contracts_signed: int
    contracts_signed_amount: Decimal
    collected: Decimal


LABELS = {
    "new_customers": "New customers",
    "interactions": "Interactions",
    "opportunities_assigned": "Opportunities assigned",
    "opportunities_won": "Won (of those assigned)",
    "opportunities_lost": "Lost (of those assigned)",
    "revenue": "Revenue (shipped and paid orders)",
    "tickets_archived": "Service tickets closed",
    "contracts_signed": "Contracts signed",
    "contracts_signed_amount": "Contracts signed (amount)",
    "collected": "Collected (receipts)",
}


def last_week(today: date) -> tuple[date, date]:
    """Monday to Sunday of the week before `today`'s: on the Monday run, the week just ended."""
    monday = today - timedelta(days=today.weekday() + 7)
    return monday, monday + timedelta(days=6)


async def team_week(session: AsyncSession, principal: Principal, first: date, last: date, time_zone: ZoneInfo) -> TeamWeek:
    """The week under the supervisor's scope; the pipeline figures are the sales-performance report's totals."""
    period = utc_bounds(first, last, time_zone)
    repo = WeekRepository(session, principal)
    performance = await pipeline.sales_performance(session, principal, start=first, end=last, time_zone=time_zone)
    signed, signed_cents = await repo.contracts_signed_cents(first, last)
    return TeamWeek(
        new_customers=await repo.new_customers(period),
        interactions=await repo.interactions(first, last),
        opportunities_assigned=sum(row.assigned for row in performance.rows),
        opportunities_won=sum(row.won for row in performance.rows),
        opportunities_lost=sum(row.lost for row in performance.rows),
        revenue=sum((row.revenue for row in performance.rows), Decimal("0.00")),
        tickets_archived=await repo.tickets_archived(period),
        contracts_signed=signed,
        contracts_signed_amount=money_from_cents(signed_cents),
        collected=money_from_cents(await repo.collected_cents(first, last)),
    )


def _figures(week: TeamWeek) -> list[tuple[str, Any]]:
    return [(LABELS[f.name], getattr(week, f.name)) for f in fields(week)]


def as_text(week: TeamWeek, currency: str) -> str:
    return "\n".join(f"{label}: {value}{' ' + currency if isinstance(value, Decimal) else ''}" for label, value in _figures(week))


def as_html(title: str, week: TeamWeek, currency: str) -> str:
    rows = "".join(
        f"<tr><th align='left'>{html.escape(label)}</th><td align='right'>{html.escape(str(value))}"
        f"{' ' + html.escape(currency) if isinstance(value, Decimal) else ''}</td></tr>"
        for label, value in _figures(week)
    )
    return f"<html><body><h2>{html.escape(title)}</h2><table>{rows}</table></body></html>"


async def send_weekly_reports(session: AsyncSession, settings: Settings) -> int:
    """Each supervisor not yet sent this week's report gets it; returns how many were sent."""
    first, last = last_week(local_today(settings.time_zone))
    title = f"Weekly report {first.isoformat()} – {last.isoformat()}"
    sent = 0
    for user_id, email in await supervisors(session):
        found = await principal_for_user(session, user_id)
        if found is None or await notifications.has_notification(session, user_id, NotificationType.WEEKLY_REPORT, title):
            continue
        week = await team_week(session, found[0], first, last, settings.time_zone)
        text = as_text(week, settings.currency)
        await notifications.notify(session, [user_id], NotificationType.WEEKLY_REPORT, title, text, email=False)
        if email:
            await notifications.queue_email(
                session,
                to=email,
                subject=title,
                body=text,
                html=as_html(title, week, settings.currency),
                purpose=DeliveryPurpose.WEEKLY_REPORT,
            )
        sent += 1
    return sent
