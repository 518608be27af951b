"""Reports over service tickets and churn warnings; the database aggregates, this module shapes."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.clock import clock
from crm_api.core.pagination import PageParams
from crm_api.core.permissions import Principal
from crm_api.read.reports.periods import local_end, local_midnight, local_period, months_between, utc_bounds
from crm_api.read.reports.repository import CHURN_SORT, ServiceDeskRepository
from crm_api.read.reports.schemas import (
    ChurnRow,
    ColumnType,
    CompositionRow,
    ReportFile,
    ReportRead,
    Scalar,
    ServiceMonthRow,
)
from crm_api.read.reports.service import build_report, decimal_or_none, dictionary_buckets, rate, share_report


async def service_composition(
    session: AsyncSession, principal: Principal, *, year: int | None, time_zone: ZoneInfo
) -> ReportRead[CompositionRow]:
    """Tickets per service type (every type of the dictionary, even at zero), created in `year` of the business calendar."""
    repo = ServiceDeskRepository(session, principal)
    period = utc_bounds(date(year, 1, 1), date(year, 12, 31), time_zone) if year is not None else None
    counts = await repo.tickets_by_type(period)
    return share_report(
        "客户服务构成 Service composition",
        parameters={"year": year},
        counted="Tickets",
        buckets=dictionary_buckets(await repo.dictionary_items("service_type"), counts),
        counts=counts,
    )


CHURN_COLUMNS = (
    ("customer_code", "Code", ColumnType.TEXT),
    ("customer_name", "Customer", ColumnType.TEXT),
    ("owner_name", "Account manager", ColumnType.TEXT),
    ("confirmed_on", "Confirmed on", ColumnType.DATE),
    ("reason", "Reason", ColumnType.TEXT),
    ("last_order_date", "Last order", ColumnType.DATE),
)
ChurnFound = Row[int, datetime | None, str | None, date | None, str, str, str]


def _churn_cells(row: ChurnFound, time_zone: ZoneInfo) -> list[Scalar]:
    """A confirmed churn's cells in the order of CHURN_COLUMNS; confirmed on the business calendar's day."""
    confirmed_on = row.confirmed_at.astimezone(time_zone).date()
    return [row.code, row.name, row.owner_name, confirmed_on, row.confirm_reason, row.last_order_date_at_open]


def _churn_row(row: ChurnFound, time_zone: ZoneInfo) -> ChurnRow:
    cells = zip((key for key, _, _ in CHURN_COLUMNS), _churn_cells(row, time_zone), strict=True)
    return ChurnRow.model_validate({"warning_id": row.id, **dict(cells)})


def _churn_report(
    rows: list[ChurnRow], confirmed: int, *, customer_name: str | None, owner_name: str | None, next_cursor: str | None = None
) -> ReportRead[ChurnRow]:
    return build_report(
        ChurnRow,
        "客户流失分析 Churn analysis",
        parameters={"customer_name": customer_name, "owner_name": owner_name},
        columns=CHURN_COLUMNS,
        rows=rows,
        facts=[("confirmed", "Confirmed churns", confirmed)],
        next_cursor=next_cursor,
    )


async def churn_analysis(
    session: AsyncSession,
    principal: Principal,
    *,
    customer_name: str | None,
    owner_name: str | None,
    time_zone: ZoneInfo,
    page: PageParams,
) -> ReportRead[ChurnRow]:
    """Confirmed churn, newest first, with the customer, its account manager, the date and the reason.

    A page at a time (tens of thousands of warnings at a million customers); the count covers every page."""
    repo = ServiceDeskRepository(session, principal)
    statement = repo.confirmed_churn(customer_name=customer_name, owner_name=owner_name)
    found = await repo.page(statement, page, CHURN_SORT)
    one_page = page.cursor is None and found.next_cursor is None
    confirmed = len(found.rows) if one_page else await repo.count(statement)
    rows = [_churn_row(row, time_zone) for row in found.rows]
    return _churn_report(rows, confirmed, customer_name=customer_name, owner_name=owner_name, next_cursor=found.next_cursor)


async def churn_file(
    session: AsyncSession, principal: Principal, *, customer_name: str | None, owner_name: str | None, time_zone: ZoneInfo
) -> ReportFile[ChurnRow]:
    """Every confirmed churn, for a file: the count, then the rows as the file is written, in one snapshot."""
    repo = ServiceDeskRepository(session, principal)
    statement = repo.confirmed_churn(customer_name=customer_name, owner_name=owner_name)
    confirmed = await repo.count(statement)
    found = await repo.every_row(statement, CHURN_SORT)
    report = _churn_report([], confirmed, customer_name=customer_name, owner_name=owner_name)
    return ReportFile(report, (_churn_cells(row, time_zone) async for row in found), row_count=confirmed)


async def service_performance(
    session: AsyncSession, principal: Principal, *, start: date | None, end: date | None, time_zone: ZoneInfo
) -> ReportRead[ServiceMonthRow]:
    """Per month of ticket creation: median and p90 hours to first handling and to archive, SLA breaches, satisfaction."""
    start, end = local_period(start, end, time_zone)
    months = months_between(start, end)
    # Bucket edges at local midnights; the first and last clipped to the period asked for.
    edges = [local_midnight(month, time_zone) for month in months[1:]]
    bounds = [local_midnight(start, time_zone), *edges, local_end(end, time_zone)]
    figures = await ServiceDeskRepository(session, principal).ticket_months(bounds, clock.now())
    rows = []
    for index, month in enumerate(months):
        found = figures.get(index, {})
        tickets = found.get("tickets", 0)
        rows.append(
            ServiceMonthRow(
                month=f"{month:%Y-%m}",
                tickets=tickets,
                first_handling_median_hours=decimal_or_none(found.get("first_handling_median")),
                first_handling_p90_hours=decimal_or_none(found.get("first_handling_p90")),
                archive_median_hours=decimal_or_none(found.get("archive_median")),
                archive_p90_hours=decimal_or_none(found.get("archive_p90")),
                sla_breach_rate=rate(found["breached"], tickets) if tickets else None,
                satisfaction_average=decimal_or_none(found.get("satisfaction")),
            )
        )
    return build_report(
        ServiceMonthRow,
        "客户服务绩效 Service performance",
        parameters={"from": start.isoformat(), "to": end.isoformat()},
        columns=(
            ("month", "Month", ColumnType.TEXT),
            ("tickets", "Tickets", ColumnType.INTEGER),
            ("first_handling_median_hours", "First handling, median h", ColumnType.NUMBER),
            ("first_handling_p90_hours", "First handling, p90 h", ColumnType.NUMBER),
            ("archive_median_hours", "Archive, median h", ColumnType.NUMBER),
            ("archive_p90_hours", "Archive, p90 h", ColumnType.NUMBER),
            ("sla_breach_rate", "SLA breached (%)", ColumnType.PERCENT),
            ("satisfaction_average", "Satisfaction", ColumnType.NUMBER),
        ),
        rows=rows,
        totals={"tickets": sum(row.tickets for row in rows)},
        facts=[
            ("quantiles", "Quantiles", "median: mean of the middle values; p90: nearest rank ⌈0.9 n⌉"),
            ("sla", "SLA breached", "handled or archived after its due time, or still not by now"),
        ],
    )
