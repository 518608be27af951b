"""Quote-to-cash reports (SPEC §3.13): target attainment, receivables aging, and contracts signed against cash collected."""

from calendar import monthrange
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.clock import clock
from crm_api.core.errors import InvalidInput
from crm_api.core.permissions import Principal
from crm_api.core.types import CENT
from crm_api.read.reports.periods import MAX_PERIOD_MONTHS, local_period, month_start, months_between
from crm_api.read.reports.repository import QuoteToCashRepository
from crm_api.read.reports.schemas import AgingRow, AttainmentRow, ColumnType, ContractCollectionRow, ReportRead
from crm_api.read.reports.service import build_report, money_from_cents
from crm_api.targets.policy import TargetHolder

ZERO = Decimal("0.00")
SIGNED_MEANING = "amount of active and completed contracts signed (sign date) in the period, by their owner"
COLLECTED_MEANING = "receipts received in the period on contracts the person owns"


def attainment_rate(signed: Decimal, target: Decimal | None) -> Decimal | None:
    if not target:
        return None
    return (signed * 100 / target).quantize(CENT, rounding=ROUND_HALF_UP)


async def target_attainment(
    session: AsyncSession,
    principal: Principal,
    *,
    holder: TargetHolder,
    first: date | None,
    last: date | None,
    time_zone: ZoneInfo,
) -> ReportRead[AttainmentRow]:
    """Per person (or team) with a target or business in the months: target, signed, collected, attainment."""
    first = first or month_start(clock.now().astimezone(time_zone).date(), 0)
    last = last or first
    if last < first:
        raise InvalidInput("from", "The period starts after it ends", code="report.bad_period")
    if len(months_between(first, last)) > MAX_PERIOD_MONTHS:
        raise InvalidInput("from", f"The period may span at most {MAX_PERIOD_MONTHS} months", code="report.bad_period")
    end = last.replace(day=monthrange(last.year, last.month)[1])  # December 9999 has no month after it
    found = await QuoteToCashRepository(session, principal).attainment(holder, first, last, end)
    rows = []
    for key, name, team_name, targets, target_cents, signed_cents, collected_cents in found:
        target = money_from_cents(target_cents) if targets else None
        signed = money_from_cents(signed_cents)
        rows.append(
            AttainmentRow(
                holder=holder.value,
                id=key,
                name=name,
                team_name=team_name,
                target=target,
                signed_amount=signed,
                collected_amount=money_from_cents(collected_cents),
                attainment=attainment_rate(signed, target),
            )
        )
    target_total = sum((row.target for row in rows if row.target is not None), ZERO)
    signed_total = sum((row.signed_amount for row in rows), ZERO)
    with_target = [row for row in rows if row.target is not None]
    return build_report(
        AttainmentRow,
        "销售目标达成 Target attainment",
        parameters={"by": holder.value, "from": f"{first:%Y-%m}", "to": f"{last:%Y-%m}"},
        columns=(
            ("name", "Team" if holder is TargetHolder.TEAM else "Person", ColumnType.TEXT),
            ("team_name", "Team", ColumnType.TEXT),
            ("target", "Target", ColumnType.MONEY),
            ("signed_amount", "Signed", ColumnType.MONEY),
            ("collected_amount", "Collected", ColumnType.MONEY),
            ("attainment", "Attainment (%)", ColumnType.PERCENT),
        ),
        rows=rows,
        totals={
            "target": target_total if with_target else None,
            "signed_amount": signed_total,
            "collected_amount": sum((row.collected_amount for row in rows), ZERO),
            "attainment": attainment_rate(sum((row.signed_amount for row in with_target), ZERO), target_total),
        },
        facts=[
            ("signed", "Achievement (signed)", SIGNED_MEANING),
            ("collected", "Collected", COLLECTED_MEANING),
            ("attainment", "Attainment", "signed ÷ the targets of the months; none without a target above zero"),
            ("team", "A team's row", "the team's own target; its current members' signed and collected amounts"),
            ("total", "Total attainment", "signed ÷ target over the rows that have a target"),
        ],
    )


# Days overdue each bucket starts after: current (not yet due, or due today), then 1–30, 31–60, 61–90, over 90.
AGING_BUCKETS = (0, 30, 60, 90)


async def receivables_aging(
    session: AsyncSession, principal: Principal, *, as_of: date | None, time_zone: ZoneInfo
) -> ReportRead[AgingRow]:
    """What is still owed on active contracts as of a day, per owner, by how many days each installment is overdue."""
    as_of = as_of or clock.now().astimezone(time_zone).date()
    starts = [as_of - timedelta(days=days) for days in AGING_BUCKETS]
    found = await QuoteToCashRepository(session, principal).receivables_aging(as_of, starts)
    fields = ("current", "overdue_1_30", "overdue_31_60", "overdue_61_90", "overdue_over_90", "total")
    rows = [
        AgingRow(
            owner_id=owner_id,
            owner_name=owner_name,
            **{field: money_from_cents(value) for field, value in zip(fields, figures, strict=True)},
        )
        for owner_id, owner_name, *figures in found
    ]
    return build_report(
        AgingRow,
        "应收账龄 Receivables aging",
        parameters={"as_of": as_of.isoformat()},
        columns=(
            ("owner_name", "Owner", ColumnType.TEXT),
            ("current", "Not yet due", ColumnType.MONEY),
            ("overdue_1_30", "1–30 days", ColumnType.MONEY),
            ("overdue_31_60", "31–60 days", ColumnType.MONEY),
            ("overdue_61_90", "61–90 days", ColumnType.MONEY),
            ("overdue_over_90", "> 90 days", ColumnType.MONEY),
            ("total", "Outstanding", ColumnType.MONEY),
        ),
        rows=rows,
        totals={field: sum((getattr(row, field) for row in rows), ZERO) for field in fields},
        facts=[
            ("outstanding", "Outstanding", "installment amount less the receipts received on or before the day"),
            ("days_overdue", "Days overdue", "the day less the due date; due on the day itself is not yet overdue"),
            ("contracts", "Contracts", "active ones only"),
        ],
    )


async def contracts_vs_collected(
    session: AsyncSession,
    principal: Principal,
    *,
    start: date | None,
    end: date | None,
    by_owner: bool,
    time_zone: ZoneInfo,
) -> ReportRead[ContractCollectionRow]:
    """Per month (and owner): contracts signed and their amount against the cash received."""
    start, end = local_period(start, end, time_zone)
    found = await QuoteToCashRepository(session, principal).contracts_and_collections(start, end, by_owner=by_owner)
    if by_owner:
        rows = [
            ContractCollectionRow(
                month=f"{int(year):04d}-{int(month):02d}",
                owner_id=owner_id,
                owner_name=owner_name,
                contracts_signed=contracts,
                signed_amount=money_from_cents(signed),
                collected_amount=money_from_cents(collected),
            )
            for year, month, owner_id, owner_name, contracts, signed, collected in found
        ]
    else:
        by_month = {(int(year), int(month)): figures for year, month, *figures in found}
        rows = []
        for first_day in months_between(start, end):
            contracts, signed, collected = by_month.get((first_day.year, first_day.month), (0, 0, 0))
            rows.append(
                ContractCollectionRow(
                    month=f"{first_day:%Y-%m}",
                    owner_id=None,
                    owner_name=None,
                    contracts_signed=contracts,
                    signed_amount=money_from_cents(signed),
                    collected_amount=money_from_cents(collected),
                )
            )
    owner_column = [("owner_name", "Owner", ColumnType.TEXT)] if by_owner else []
    return build_report(
        ContractCollectionRow,
        "合同与回款 Contracts vs collected",
        parameters={"from": start.isoformat(), "to": end.isoformat(), "by_owner": "true" if by_owner else "false"},
        columns=(
            ("month", "Month", ColumnType.TEXT),
            *owner_column,
            ("contracts_signed", "Contracts signed", ColumnType.INTEGER),
            ("signed_amount", "Signed", ColumnType.MONEY),
            ("collected_amount", "Collected", ColumnType.MONEY),
        ),
        rows=rows,
        totals={
            "contracts_signed": sum(row.contracts_signed for row in rows),
            "signed_amount": sum((row.signed_amount for row in rows), ZERO),
            "collected_amount": sum((row.collected_amount for row in rows), ZERO),
        },
        facts=[("signed", "Signed", SIGNED_MEANING), ("collected", "Collected", "receipts received in the month")],
    )
