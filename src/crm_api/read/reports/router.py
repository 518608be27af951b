from datetime import date
from typing import Annotated

from fastapi import Depends, Query
from fastapi.responses import Response

from crm_api.core.auth import require
from crm_api.core.config import SettingsDep
from crm_api.core.db import SessionDep, SnapshotRoute, StreamedSnapshotDep
from crm_api.core.pagination import CursorPageDep
from crm_api.core.permissions import Principal
from crm_api.core.responses import raises
from crm_api.core.routing import DomainRouter
from crm_api.core.schemas import Id
from crm_api.read.reports import pipeline, quote_to_cash, service, service_desk
from crm_api.read.reports.export import (
    EXPORT_RESPONSES,
    ExportFormat,
    export_format,
    export_response,
    streamed_response,
)
from crm_api.read.reports.periods import FIRST_YEAR
from crm_api.read.reports.schemas import (
    AgingRow,
    AttainmentRow,
    ChurnRow,
    CompositionRow,
    ContractCollectionRow,
    ContributionRow,
    FieldQualityRow,
    ForecastRow,
    FunnelRow,
    PerformanceRow,
    ReportRead,
    ServiceMonthRow,
)
from crm_api.read.reports.service import CompositionField
from crm_api.targets.policy import TargetHolder
from crm_api.targets.schemas import Month

# A report runs several statements (figures, totals, dictionary labels): one snapshot for all of them.
router = DomainRouter(prefix="/reports", tags=["reports"], route_class=SnapshotRoute)

ReportsRead = Annotated[Principal, Depends(require("reports:read"))]
# Quote-to-cash figures are read under the permission of the records behind them, in its scope: an account manager
# sees their own rows, a supervisor their team's, an executive everyone's.
TargetsRead = Annotated[Principal, Depends(require("targets:read"))]
ContractsRead = Annotated[Principal, Depends(require("contracts:read"))]
FormatDep = Annotated[ExportFormat, Depends(export_format)]
RESPONSES = EXPORT_RESPONSES
Year = Annotated[int | None, Query(ge=FIRST_YEAR, le=9999, description="calendar year in the business time zone")]
PeriodStart = Annotated[
    date | None,
    Query(
        alias="from",
        ge=date(FIRST_YEAR, 1, 1),
        description="first day (business calendar); default: 11 months before `to`, from the 1st",
    ),
]
PeriodEnd = Annotated[date | None, Query(alias="to", ge=date(FIRST_YEAR, 1, 1), description="last day, included; default: today")]


@router.get(
    "/customer-contribution",
    response_model=ReportRead[ContributionRow],
    responses=RESPONSES,
    summary="Customer contribution: shipped and paid order totals per customer, largest first",
    description="JSON and PDF hold one page of customers (`limit`, `cursor`); CSV and XLSX stream every customer. "
    "The totals always cover every contributing customer.",
)
@raises("report.too_large_for_pdf", "report.too_large_for_xlsx")
async def customer_contribution(
    principal: ReportsRead,
    snapshot: StreamedSnapshotDep,
    export: FormatDep,
    page: CursorPageDep,
    customer_name: Annotated[str | None, Query(max_length=200, description="part of the customer's name")] = None,
    year: Annotated[int | None, Query(ge=FIRST_YEAR, le=9999, description="calendar year of the order date")] = None,
) -> Response:
    file_stem = "customer-contribution" + (f"-{year}" if year else "")
    if export.streams:
        whole = await service.contribution_file(snapshot, principal, customer_name=customer_name, year=year)
        return streamed_response(whole, export, file_stem)
    report = await service.customer_contribution(snapshot, principal, customer_name=customer_name, year=year, page=page)
    return export_response(report, export, file_stem)


@router.get(
    "/customer-composition",
    response_model=ReportRead[CompositionRow],
    responses=RESPONSES,
    summary="Customer composition: active customers and their share per level, credit or satisfaction",
)
@raises("report.too_large_for_pdf")
async def customer_composition(
    principal: ReportsRead, session: SessionDep, export: FormatDep, by: CompositionField = CompositionField.LEVEL
) -> Response:
    report = await service.customer_composition(session, principal, by=by)
    return export_response(report, export, f"customer-composition-{by.value}")


@router.get(
    "/revenue-forecast",
    response_model=ReportRead[ForecastRow],
    responses=RESPONSES,
    summary="Revenue forecast: monthly history, least-squares trend and a 95 % prediction interval",
)
@raises("report.too_large_for_pdf")
async def revenue_forecast(
    principal: ReportsRead,
    session: SessionDep,
    settings: SettingsDep,
    export: FormatDep,
    months: Annotated[int, Query(ge=1, le=12, description="months to forecast")] = 3,
    history: Annotated[int, Query(ge=3, le=60, description="full months of history the trend is fitted on")] = 12,
) -> Response:
    report = await service.revenue_forecast(session, principal, months=months, history=history, time_zone=settings.time_zone)
    return export_response(report, export, "revenue-forecast")


@router.get(
    "/data-quality",
    response_model=ReportRead[FieldQualityRow],
    responses=RESPONSES,
    summary="Data quality: duplicate-candidate ratio and missing rates per customer and contact field",
)
@raises("report.too_large_for_pdf")
async def data_quality(principal: ReportsRead, session: SessionDep, export: FormatDep) -> Response:
    return export_response(await service.data_quality(session, principal), export, "data-quality")


@router.get(
    "/service-composition",
    response_model=ReportRead[CompositionRow],
    responses=RESPONSES,
    summary="Service composition: tickets per service type, every type shown, optionally of one year",
)
@raises("report.too_large_for_pdf")
async def service_composition(
    principal: ReportsRead, session: SessionDep, settings: SettingsDep, export: FormatDep, year: Year = None
) -> Response:
    report = await service_desk.service_composition(session, principal, year=year, time_zone=settings.time_zone)
    return export_response(report, export, "service-composition" + (f"-{year}" if year else ""))


@router.get(
    "/churn",
    response_model=ReportRead[ChurnRow],
    responses=RESPONSES,
    summary="Churn analysis: confirmed churn with customer, account manager, date and reason",
    description="JSON and PDF hold one page of confirmed churns, newest first (`limit`, `cursor`); CSV and XLSX "
    "stream every one. The `confirmed` fact counts every page.",
)
@raises("report.too_large_for_pdf", "report.too_large_for_xlsx")
async def churn_analysis(
    principal: ReportsRead,
    snapshot: StreamedSnapshotDep,
    settings: SettingsDep,
    export: FormatDep,
    page: CursorPageDep,
    customer_name: Annotated[str | None, Query(max_length=200, description="part of the customer's name")] = None,
    owner_name: Annotated[str | None, Query(max_length=100, description="part of the account manager's name")] = None,
) -> Response:
    time_zone = settings.time_zone
    if export.streams:
        whole = await service_desk.churn_file(
            snapshot, principal, customer_name=customer_name, owner_name=owner_name, time_zone=time_zone
        )
        return streamed_response(whole, export, "churn")
    report = await service_desk.churn_analysis(
        snapshot, principal, customer_name=customer_name, owner_name=owner_name, time_zone=time_zone, page=page
    )
    return export_response(report, export, "churn")


@router.get(
    "/sales-funnel",
    response_model=ReportRead[FunnelRow],
    responses=RESPONSES,
    summary="Sales funnel: opportunities per stage and status, expected amount and stage-to-stage conversion",
)
@raises("report.bad_period", "report.too_large_for_pdf")
async def sales_funnel(
    principal: ReportsRead,
    session: SessionDep,
    settings: SettingsDep,
    export: FormatDep,
    start: PeriodStart = None,
    end: PeriodEnd = None,
    owner_id: Annotated[Id | None, Query(description="only opportunities assigned to this user")] = None,
) -> Response:
    report = await pipeline.sales_funnel(
        session, principal, start=start, end=end, owner_id=owner_id, time_zone=settings.time_zone
    )
    return export_response(report, export, "sales-funnel")


@router.get(
    "/sales-performance",
    response_model=ReportRead[PerformanceRow],
    responses=RESPONSES,
    summary="Sales performance per account manager: assigned, won, lost, win rate, days to win, revenue",
)
@raises("report.bad_period", "report.too_large_for_pdf")
async def sales_performance(
    principal: ReportsRead,
    session: SessionDep,
    settings: SettingsDep,
    export: FormatDep,
    start: PeriodStart = None,
    end: PeriodEnd = None,
) -> Response:
    report = await pipeline.sales_performance(session, principal, start=start, end=end, time_zone=settings.time_zone)
    return export_response(report, export, "sales-performance")


@router.get(
    "/service-performance",
    response_model=ReportRead[ServiceMonthRow],
    responses=RESPONSES,
    summary="Service performance per month: handling and archive times (median, p90), SLA breaches, satisfaction",
)
@raises("report.bad_period", "report.too_large_for_pdf")
async def service_performance(
    principal: ReportsRead,
    session: SessionDep,
    settings: SettingsDep,
    export: FormatDep,
    start: PeriodStart = None,
    end: PeriodEnd = None,
) -> Response:
    report = await service_desk.service_performance(session, principal, start=start, end=end, time_zone=settings.time_zone)
    return export_response(report, export, "service-performance")


@router.get(
    "/target-attainment",
    response_model=ReportRead[AttainmentRow],
    responses=RESPONSES,
    summary="Target attainment per person or per team: target, signed, collected and attainment for a month or months",
    description="The achievement measured is the **signed amount**: active and completed contracts whose sign date "
    "falls in the months, counted for their owner (a team: its current members). `collected_amount` is the receipts "
    "received in the months on those owners' contracts. `attainment` = signed ÷ the sum of the months' targets, in "
    "percent; null when no target (or only zero) is set. A team's target is its own, not the sum of its members'. "
    "Rows: those in the caller's `targets:read` scope with a target or any figure.",
)
@raises("report.bad_period", "report.too_large_for_pdf")
async def target_attainment(
    principal: TargetsRead,
    session: SessionDep,
    settings: SettingsDep,
    export: FormatDep,
    by: Annotated[TargetHolder, Query(description="one row per person (user) or per team")] = TargetHolder.USER,
    first: Annotated[Month | None, Query(alias="from", description="first month, YYYY-MM; default: this month")] = None,
    last: Annotated[Month | None, Query(alias="to", description="last month, YYYY-MM, included; default: `from`")] = None,
) -> Response:
    report = await quote_to_cash.target_attainment(
        session, principal, holder=by, first=first, last=last, time_zone=settings.time_zone
    )
    return export_response(report, export, f"target-attainment-{by.value}")


@router.get(
    "/receivables-aging",
    response_model=ReportRead[AgingRow],
    responses=RESPONSES,
    summary="Receivables aging per owner: what active contracts still owe, by days overdue, as of a day",
    description="Outstanding = an installment's amount less the receipts received on or before `as_of`. Days "
    "overdue = `as_of` less the due date: `current` is not yet due (due on `as_of` included), then 1–30, 31–60, "
    "61–90 and over 90 days. Active contracts in the caller's `contracts:read` scope only.",
)
@raises("report.too_large_for_pdf")
async def receivables_aging(
    principal: ContractsRead,
    session: SessionDep,
    settings: SettingsDep,
    export: FormatDep,
    as_of: Annotated[
        date | None, Query(ge=date(FIRST_YEAR, 1, 1), description="the day aged to (business calendar); default: today")
    ] = None,
) -> Response:
    report = await quote_to_cash.receivables_aging(session, principal, as_of=as_of, time_zone=settings.time_zone)
    return export_response(report, export, "receivables-aging")


@router.get(
    "/contracts-vs-collected",
    response_model=ReportRead[ContractCollectionRow],
    responses=RESPONSES,
    summary="Contracts vs collected per month: contracts signed and their amount against receipts collected",
    description="Signed: active and completed contracts by sign date; collected: receipts by the day received. Every "
    "month of the period is a row; with `by_owner=true`, a row per month and owner that has a figure. Contracts in "
    "the caller's `contracts:read` scope.",
)
@raises("report.bad_period", "report.too_large_for_pdf")
async def contracts_vs_collected(
    principal: ContractsRead,
    session: SessionDep,
    settings: SettingsDep,
    export: FormatDep,
    start: PeriodStart = None,
    end: PeriodEnd = None,
    by_owner: Annotated[bool, Query(description="one row per month and contract owner")] = False,
) -> Response:
    report = await quote_to_cash.contracts_vs_collected(
        session, principal, start=start, end=end, by_owner=by_owner, time_zone=settings.time_zone
    )
    return export_response(report, export, "contracts-vs-collected")
