"""Churn warnings: the set-based scan, postpone measures and confirming a customer as lost."""

import calendar
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.churn.policy import RULES, ChurnWarningAction, ChurnWarningStatus, OwnedWarning
from crm_api.churn.repository import ChurnWarningRepository
from crm_api.churn.schemas import (
    ChurnCustomer,
    ChurnOwner,
    ChurnReasons,
    ChurnWarningDetail,
    ChurnWarningOpened,
    ChurnWarningRead,
    ConfirmChurn,
    MeasureCreate,
    MeasureRead,
)
from crm_api.core import audit
from crm_api.core.clock import clock, local_today, start_of_local_day
from crm_api.core.config import Settings
from crm_api.core.outbox import EventType, json_object, publish_selected
from crm_api.core.pagination import Page, PageParams
from crm_api.core.permissions import Principal
from crm_api.core.transitions import transition
from crm_api.customers.policy import CustomerStatus
from crm_api.models.churn import ChurnMeasure, ChurnWarning
from crm_api.models.customer import Customer
from crm_api.models.identity import User
from crm_api.notifications import service as notifications
from crm_api.notifications.policy import NotificationType

OPENED = EventType("churn_warning.opened", "The churn scan opened a warning for an inactive customer", ChurnWarningOpened)
CONFIRMED = EventType("churn_warning.confirmed", "A customer's churn was confirmed", ChurnWarningRead)


def months_before(day: date, months: int) -> date:
    """The same day `months` calendar months earlier, clamped to the month's end (31 Aug - 6 → 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


async def scan(session: AsyncSession, settings: Settings) -> int:
    """Open a warning for each inactive customer; returns how many were opened.

    Inactive: the last shipped/paid order is dated before the cutoff (today minus N calendar months),
    or there is none and the customer was created before the cutoff day. An order exactly on the
    cutoff day is N months old, not more, so it does not trigger.
    """
    cutoff = months_before(local_today(settings.time_zone), settings.churn_inactive_months)
    now = clock.now()
    repo = ChurnWarningRepository(session)
    last_id = await repo.last_id()
    opened = await repo.open_warnings_for_inactive(
        cutoff_date=cutoff, created_before=start_of_local_day(cutoff, settings.time_zone), now=now
    )
    await notifications.notify_selected(session, NotificationType.CHURN_WARNING, repo.opened_since(after_id=last_id))
    await publish_selected(
        session,
        event_type=OPENED.name,
        entity_type="churn_warning",
        entity_id=ChurnWarning.id,
        payload=json_object(
            session,
            warning_id=ChurnWarning.id,
            customer_id=ChurnWarning.customer_id,
            last_order_date=ChurnWarning.last_order_date_at_open,
        ),
        # Only the scan opens warnings, and this run's rows carry its instant.
        where=[ChurnWarning.opened_at == now, ChurnWarning.status == ChurnWarningStatus.OPEN],
    )
    await audit.record_batch(
        session,
        actor=None,
        batch_type="churn_scan",
        batch_id=cutoff.isoformat(),
        action="scan",
        summary={"cutoff": cutoff.isoformat(), "opened": opened},
    )
    return opened


def _read(warning: ChurnWarning, context: tuple[Customer, User, date | None], principal: Principal) -> ChurnWarningRead:
    customer, owner, last_order_date = context
    return ChurnWarningRead(
        id=warning.id,
        version=warning.version,
        status=warning.status,
        customer=ChurnCustomer.model_validate(customer),
        owner=ChurnOwner.model_validate(owner),
        last_order_date=last_order_date,
        opened_at=warning.opened_at,
        confirmed_at=warning.confirmed_at,
        confirmed_by_id=warning.confirmed_by_id,
        confirmed_by_name=warning.confirmed_by_name,
        confirm_reason=warning.confirm_reason,
        allowed_actions=RULES.allowed_actions(OwnedWarning(warning, owner.id), principal),
    )


async def list_warnings(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    *,
    status: ChurnWarningStatus | None,
    customer_name: str | None,
    owner_name: str | None,
) -> Page[ChurnWarningRead]:
    repo = ChurnWarningRepository(session)
    statement = repo.filtered(
        repo.scoped(principal, "churn:read"), status=status, customer_name=customer_name, owner_name=owner_name
    )
    warnings, next_cursor, total = await repo.page(statement, params)
    context = await repo.context([w.id for w in warnings])
    return Page(items=[_read(w, context[w.id], principal) for w in warnings], next_cursor=next_cursor, total=total)


async def _get(session: AsyncSession, principal: Principal, warning_id: int, permission: str) -> ChurnWarning:
    return await ChurnWarningRepository(session).get_scoped_or_404(warning_id, principal, permission, "Churn warning")


async def _reasons(session: AsyncSession, settings: Settings, customer: Customer, last_order_date: date | None) -> ChurnReasons:
    today = local_today(settings.time_zone)
    months = settings.churn_inactive_months
    middle = months_before(today, months)
    earlier, recent = await ChurnWarningRepository(session).completed_orders_between(
        customer.id, since=months_before(middle, months), middle=middle
    )
    since = last_order_date or customer.created_at.astimezone(settings.time_zone).date()
    return ChurnReasons(
        days_since_last_order=(today - since).days,
        has_completed_orders=last_order_date is not None,
        period_months=months,
        orders_last_period=recent,
        orders_previous_period=earlier,
    )


async def get_warning(
    session: AsyncSession, principal: Principal, settings: Settings, warning_id: int, *, permission: str = "churn:read"
) -> ChurnWarningDetail:
    warning = await _get(session, principal, warning_id, permission)
    repo = ChurnWarningRepository(session)
    context = (await repo.context([warning.id]))[warning.id]
    customer, _, last_order_date = context
    measures = [
        MeasureRead(id=m.id, measure=m.measure, author_id=m.author_id, author_name=name, created_at=m.created_at)
        for m, name in await repo.measures(warning.id)
    ]
    return ChurnWarningDetail(
        **_read(warning, context, principal).model_dump(),
        reasons=await _reasons(session, settings, customer, last_order_date),
        measures=measures,
    )


async def _owned(session: AsyncSession, warning: ChurnWarning) -> tuple[OwnedWarning, Customer]:
    customer = await session.get(Customer, warning.customer_id)
    assert customer is not None  # FK
    return OwnedWarning(warning, customer.owner_id), customer


async def add_measure(
    session: AsyncSession, principal: Principal, settings: Settings, warning_id: int, data: MeasureCreate
) -> ChurnWarningDetail:
    warning = await _get(session, principal, warning_id, "churn:manage")
    owned, _ = await _owned(session, warning)
    RULES.enforce(ChurnWarningAction.ADD_MEASURE, owned, principal)
    before = audit.snapshot(warning)
    assert principal.user_id is not None  # only the owner (a user) gets past the rule
    session.add(ChurnMeasure(warning_id=warning.id, measure=data.measure, author_id=principal.user_id, created_at=clock.now()))
    warning.status = ChurnWarningStatus.POSTPONED
    await audit.record_change(
        session,
        actor=principal,
        entity_type="churn_warning",
        entity=warning,
        action=ChurnWarningAction.ADD_MEASURE,
        before=before,
        view=lambda changed: audit.snapshot(changed) | {"measure": data.measure},
    )
    return await get_warning(session, principal, settings, warning.id, permission="churn:manage")


async def confirm(
    session: AsyncSession, principal: Principal, settings: Settings, warning_id: int, data: ConfirmChurn
) -> ChurnWarningDetail:
    """Confirmed once: the winner of a race churns the customer (its version checked too) and publishes."""
    warning = await _get(session, principal, warning_id, "churn:manage")
    owned, customer = await _owned(session, warning)
    RULES.enforce(ChurnWarningAction.CONFIRM, owned, principal)
    now = clock.now()
    changes = {
        "status": ChurnWarningStatus.CONFIRMED,
        "confirmed_at": now,
        "confirmed_by_id": principal.user_id,
        "confirm_reason": data.reason,
    }
    warning = await transition(
        session, warning, actor=principal, entity_type="churn_warning", action=ChurnWarningAction.CONFIRM, changes=changes
    )
    customer_before = audit.snapshot(customer)
    customer.status, customer.churned_at = CustomerStatus.CHURNED, now
    await audit.record_change(
        session, actor=principal, entity_type="customer", entity=customer, action="churn", before=customer_before
    )
    confirmed = await get_warning(session, principal, settings, warning.id, permission="churn:manage")
    await CONFIRMED.publish(session, entity_type="churn_warning", entity_id=warning.id, payload=confirmed)
    return confirmed
