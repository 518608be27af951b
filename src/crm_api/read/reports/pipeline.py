"""Reports over the sales pipeline: the funnel by stage and each account manager's results."""

from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.permissions import Principal
from crm_api.opportunities.policy import OpportunityStatus
from crm_api.read.reports.periods import local_period, utc_bounds
from crm_api.read.reports.repository import PipelineRepository
from crm_api.read.reports.schemas import ColumnType, FunnelRow, PerformanceRow, ReportRead
from crm_api.read.reports.service import build_report, decimal_or_none, dictionary_buckets, money_from_cents, rate


async def sales_funnel(
    session: AsyncSession,
    principal: Principal,
    *,
    start: date | None,
    end: date | None,
    owner_id: int | None,
    time_zone: ZoneInfo,
) -> ReportRead[FunnelRow]:
    """Opportunities created in the period per stage and status, their expected amount, and stage-to-stage conversion."""
    start, end = local_period(start, end, time_zone)
    repo = PipelineRepository(session, principal)
    found = await repo.opportunities_by_stage(utc_bounds(start, end, time_zone), owner_id)
    by_stage: dict[str, dict[str, int]] = {}
    for stage_value, status, count, cents in found:  # unpacked: a Row's `count` attribute types as tuple.count
        stage = by_stage.setdefault(stage_value, {"cents": 0})
        stage[status] = count
        stage["cents"] += int(cents)
    stages = dictionary_buckets(await repo.dictionary_items("opportunity_stage"), by_stage)
    stages += [(value, value) for value in sorted(by_stage) if value not in {v for v, _ in stages}]
    totals = [sum(by_stage.get(value, {}).get(status, 0) for status in OpportunityStatus) for value, _ in stages]
    won_by_stage = [by_stage.get(value, {}).get(OpportunityStatus.WON, 0) for value, _ in stages]
    # Reached stage k: now at stage k or later, or won at an earlier stage.
    reached = [sum(totals[k:]) + sum(won_by_stage[:k]) for k in range(len(stages))]
    next_reached = [*reached[1:], sum(won_by_stage)]
    rows = [
        FunnelRow(
            stage=value,
            label=label,
            **{status: by_stage.get(value, {}).get(status, 0) for status in OpportunityStatus},
            total=total,
            expected_amount=money_from_cents(by_stage.get(value, {}).get("cents", 0)),
            reached=here,
            conversion=rate(following, here) if here else None,
        )
        for (value, label), total, here, following in zip(stages, totals, reached, next_reached, strict=True)
    ]
    sums = {status: sum(getattr(row, status) for row in rows) for status in (*OpportunityStatus, "total")}
    return build_report(
        FunnelRow,
        "销售漏斗 Sales funnel",
        parameters={"from": start.isoformat(), "to": end.isoformat(), "owner_id": owner_id},
        columns=(
            ("label", "Stage", ColumnType.TEXT),
            *((status.value, status.title(), ColumnType.INTEGER) for status in OpportunityStatus),
            ("total", "Opportunities", ColumnType.INTEGER),
            ("expected_amount", "Expected amount", ColumnType.MONEY),
            ("reached", "Reached", ColumnType.INTEGER),
            ("conversion", "Conversion to next (%)", ColumnType.PERCENT),
        ),
        rows=rows,
        totals=sums | {"expected_amount": sum((row.expected_amount for row in rows), Decimal("0.00"))},
        facts=[
            ("reached", "Reached", "at this stage or a later one, or won (a win passes every stage)"),
            ("conversion", "Conversion", "reached the next stage ÷ reached this one; last stage: won ÷ reached"),
        ],
    )


async def sales_performance(
    session: AsyncSession, principal: Principal, *, start: date | None, end: date | None, time_zone: ZoneInfo
) -> ReportRead[PerformanceRow]:
    """Per account manager: opportunities assigned in the period, won, lost, win rate, median days to win, revenue."""
    start, end = local_period(start, end, time_zone)
    repo = PipelineRepository(session, principal)
    outcomes = await repo.assignment_outcomes(utc_bounds(start, end, time_zone))
    revenue = await repo.revenue_by_owner(start, end)
    rows = []
    for user in await repo.account_managers():
        assigned, won, lost, median = outcomes.get(user.id, (0, 0, 0, None))
        rows.append(
            PerformanceRow(
                user_id=user.id,
                name=user.full_name,
                assigned=assigned,
                won=won,
                lost=lost,
                win_rate=rate(won, won + lost) if won + lost else None,
                median_days_to_win=decimal_or_none(median),
                revenue=money_from_cents(revenue.get(user.id, 0)),
            )
        )
    won, lost = sum(row.won for row in rows), sum(row.lost for row in rows)
    return build_report(
        PerformanceRow,
        "销售业绩 Sales performance",
        parameters={"from": start.isoformat(), "to": end.isoformat()},
        columns=(
            ("name", "Account manager", ColumnType.TEXT),
            ("assigned", "Assigned", ColumnType.INTEGER),
            ("won", "Won", ColumnType.INTEGER),
            ("lost", "Lost", ColumnType.INTEGER),
            ("win_rate", "Win rate (%)", ColumnType.PERCENT),
            ("median_days_to_win", "Median days to win", ColumnType.NUMBER),
            ("revenue", "Revenue", ColumnType.MONEY),
        ),
        rows=rows,
        totals={
            "assigned": sum(row.assigned for row in rows),
            "won": won,
            "lost": lost,
            "win_rate": rate(won, won + lost) if won + lost else None,
            "revenue": sum((row.revenue for row in rows), Decimal("0.00")),
        },
        facts=[
            ("win_rate", "Win rate", "won ÷ (won + lost) of the opportunities assigned in the period"),
            ("revenue", "Revenue", "shipped or paid orders dated in the period, of the customers each one owns"),
        ],
    )
