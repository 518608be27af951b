"""The reports: the database aggregates, this module only shapes, rounds and fits the aggregated figures."""

from collections.abc import Mapping, Sequence
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from crm_api.core.clock import clock
from crm_api.core.pagination import PageParams
from crm_api.core.permissions import Principal
from crm_api.core.types import CENT, to_money
from crm_api.models.customer import Contact, Customer
from crm_api.models.platform import DictionaryItem
from crm_api.read.reports.periods import month_start
from crm_api.read.reports.repository import CONTRIBUTION_SORT, ReportRepository
from crm_api.read.reports.schemas import (
    ColumnType,
    CompositionRow,
    ContributionRow,
    FieldQualityRow,
    ForecastRow,
    ReportColumn,
    ReportFact,
    ReportFile,
    ReportRead,
    Scalar,
)

RowT = TypeVar("RowT", bound=BaseModel)


def build_report(
    row_type: type[RowT],
    title: str,
    *,
    parameters: dict[str, Scalar],
    columns: Sequence[tuple[str, str, ColumnType]],
    rows: list[RowT],
    totals: dict[str, Scalar] | None = None,
    facts: Sequence[tuple[str, str, Scalar]] = (),
    next_cursor: str | None = None,
) -> ReportRead[RowT]:
    return ReportRead[row_type](  # type: ignore[valid-type]  # parametrised at runtime: pydantic validates the rows as row_type
        title=title,
        generated_at=clock.now(),
        parameters=parameters,
        columns=[ReportColumn(key=key, label=label, type=column_type) for key, label, column_type in columns],
        rows=rows,
        totals=totals or {},
        facts=[ReportFact(key=key, label=label, value=value) for key, label, value in facts],
        next_cursor=next_cursor,
    )


def money_from_cents(cents: int | Decimal) -> Decimal:
    # int(): PostgreSQL's sum of integers is a numeric, which asyncpg may hand over as Decimal('2.000E+7').
    return Decimal(int(cents)).scaleb(-2)  # exact, with its two places


def percentages(counts: Sequence[int]) -> list[Decimal]:
    """Shares in percent with 2 places that add up to exactly 100.00 (largest-remainder method).

    Each share is first cut down to whole hundredths of a percent; the hundredths still missing
    from 100.00 go one each to the shares that lost the most in the cut (earlier rows win ties).
    """
    whole = sum(counts)
    if whole == 0:
        return [Decimal("0.00")] * len(counts)
    exact = [Decimal(count) * 10000 / whole for count in counts]
    units = [int(share.to_integral_value(rounding=ROUND_FLOOR)) for share in exact]
    by_remainder = sorted(range(len(counts)), key=lambda i: units[i] - exact[i])
    for index in by_remainder[: 10000 - sum(units)]:
        units[index] += 1
    return [(Decimal(unit) / 100).quantize(CENT) for unit in units]


def decimal_or_none(value: float | Decimal | None) -> Decimal | None:
    """A measured figure (hours, days, a mean) with 2 places; None when there was nothing to measure."""
    return None if value is None else Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def rate(part: int, whole: int) -> Decimal:
    return (Decimal(part) * 100 / whole).quantize(CENT, rounding=ROUND_HALF_UP) if whole else Decimal("0.00")


CONTRIBUTION_COLUMNS = (
    ("customer_code", "Code", ColumnType.TEXT),
    ("customer_name", "Customer", ColumnType.TEXT),
    ("owner_name", "Account manager", ColumnType.TEXT),
    ("order_count", "Orders", ColumnType.INTEGER),
    ("revenue", "Revenue", ColumnType.MONEY),
)


def _contribution_cells(row: Row[int, str, str, str, int, int]) -> list[Scalar]:
    """A customer's cells in the order of CONTRIBUTION_COLUMNS: a file's line, built without a model per row."""
    _, code, name, owner_name, order_count, cents = row  # by position: a named lookup costs more than the rest
    return [code, name, owner_name, order_count, money_from_cents(cents)]


def _contribution_row(row: Row[int, str, str, str, int, int]) -> ContributionRow:
    cells = zip((key for key, _, _ in CONTRIBUTION_COLUMNS), _contribution_cells(row), strict=True)
    return ContributionRow.model_validate({"customer_id": row.customer_id, **dict(cells)})


def _contribution_report(
    rows: list[ContributionRow],
    totals: Sequence[int],
    *,
    customer_name: str | None,
    year: int | None,
    next_cursor: str | None = None,
) -> ReportRead[ContributionRow]:
    customers, order_count, cents = totals
    return build_report(
        ContributionRow,
        "客户贡献分析 Customer contribution",
        parameters={"customer_name": customer_name, "year": year},
        columns=CONTRIBUTION_COLUMNS,
        rows=rows,
        totals={"order_count": order_count, "revenue": money_from_cents(cents)},
        facts=[("customers", "Contributing customers", customers)],
        next_cursor=next_cursor,
    )


async def customer_contribution(
    session: AsyncSession, principal: Principal, *, customer_name: str | None, year: int | None, page: PageParams
) -> ReportRead[ContributionRow]:
    """Per customer, the sum of its shipped or paid order totals, largest first; `year` is the order date's.

    One page of the million customers a company may have; the totals cover every contributing customer.
    """
    repo = ReportRepository(session, principal)
    found = await repo.page(repo.contribution(customer_name=customer_name, year=year), page, CONTRIBUTION_SORT)
    if page.cursor is None and found.next_cursor is None:  # one page holds every contributor
        totals = (
            len(found.rows),
            sum(row.order_count for row in found.rows),
            sum(row.revenue_cents for row in found.rows),
        )
    else:
        totals = await repo.contribution_totals(customer_name=customer_name, year=year)
    rows = [_contribution_row(row) for row in found.rows]
    return _contribution_report(rows, totals, customer_name=customer_name, year=year, next_cursor=found.next_cursor)


async def contribution_file(
    session: AsyncSession, principal: Principal, *, customer_name: str | None, year: int | None
) -> ReportFile[ContributionRow]:
    """Every contributing customer, for a file: the totals, then the rows as the file is written, in one snapshot."""
    repo = ReportRepository(session, principal)
    totals = await repo.contribution_totals(customer_name=customer_name, year=year)
    found = await repo.every_row(repo.contribution(customer_name=customer_name, year=year), CONTRIBUTION_SORT)
    report = _contribution_report([], totals, customer_name=customer_name, year=year)
    return ReportFile(report, (_contribution_cells(row) async for row in found), row_count=totals[0])


class CompositionField(StrEnum):
    LEVEL = "level"
    CREDIT = "credit"
    SATISFACTION = "satisfaction"


UNSET_LABEL = "未设置 (unset)"
RATING_VALUES = range(1, 6)


def dictionary_buckets(items: Sequence[DictionaryItem], counts: Mapping[Any, object]) -> list[tuple[Any, str]]:
    """Dictionary values in their order; inactive ones only while records still carry them."""
    return [(item.value, item.label) for item in items if item.active or counts.get(item.value)]


def share_report(
    title: str,
    *,
    parameters: dict[str, Scalar],
    counted: str,
    buckets: list[tuple[Any, str]],
    counts: dict[Any, int],
) -> ReportRead[CompositionRow]:
    """Count and share per bucket, zero buckets kept, values outside the known buckets appended, then "unset"."""
    known = {value for value, _ in buckets}
    buckets = buckets + [(value, str(value)) for value in sorted(counts, key=str) if value not in known and value is not None]
    if None in counts:
        buckets.append((None, UNSET_LABEL))
    bucket_counts = [counts.get(value, 0) for value, _ in buckets]
    rows = [
        CompositionRow(value=None if value is None else str(value), label=label, count=count, share=share)
        for (value, label), count, share in zip(buckets, bucket_counts, percentages(bucket_counts), strict=True)
    ]
    total = sum(bucket_counts)
    return build_report(
        CompositionRow,
        title,
        parameters=parameters,
        columns=(
            ("value", "Value", ColumnType.TEXT),
            ("label", "Label", ColumnType.TEXT),
            ("count", counted, ColumnType.INTEGER),
            ("share", "Share (%)", ColumnType.PERCENT),
        ),
        rows=rows,
        totals={"count": total, "share": Decimal("100.00") if total else Decimal("0.00")},
        facts=[("rounding", "Shares rounded by", "largest remainder, to 100.00 %")],
    )


async def customer_composition(
    session: AsyncSession, principal: Principal, *, by: CompositionField
) -> ReportRead[CompositionRow]:
    """Active customers per level, credit or satisfaction value, every known value and "unset" shown even at zero."""
    repo = ReportRepository(session, principal)
    column: InstrumentedAttribute[Any] = getattr(Customer, by.value)
    counts = await repo.active_customers_by(column)
    if by is CompositionField.LEVEL:
        buckets = dictionary_buckets(await repo.dictionary_items("customer_level"), counts)
    else:
        buckets = [(value, str(value)) for value in RATING_VALUES]
    return share_report(
        f"客户构成分析 Customer composition by {by.value}",
        parameters={"by": by.value},
        counted="Active customers",
        buckets=buckets,
        counts={None: 0} | counts,  # the unset row always shows
    )


# Two-sided 95 % quantiles of Student's t by degrees of freedom; between entries the smaller df's
# (larger, so more cautious) value is used, and past 60 the normal 1.96.
T_95 = {
    1: "12.706",
    2: "4.303",
    3: "3.182",
    4: "2.776",
    5: "2.571",
    6: "2.447",
    7: "2.365",
    8: "2.306",
    9: "2.262",
    10: "2.228",
    11: "2.201",
    12: "2.179",
    13: "2.160",
    14: "2.145",
    15: "2.131",
    16: "2.120",
    17: "2.110",
    18: "2.101",
    19: "2.093",
    20: "2.086",
    21: "2.080",
    22: "2.074",
    23: "2.069",
    24: "2.064",
    25: "2.060",
    26: "2.056",
    27: "2.052",
    28: "2.048",
    29: "2.045",
    30: "2.042",
    40: "2.021",
    60: "2.000",
}


def t_quantile_95(degrees_of_freedom: int) -> Decimal:
    if degrees_of_freedom > max(T_95):
        return Decimal("1.96")
    return Decimal(T_95[max(df for df in T_95 if df <= degrees_of_freedom)])


class LinearFit:
    """Ordinary least squares of y on x = 0, 1, …, n-1, in Decimal so every figure can be redone by hand."""

    def __init__(self, ys: Sequence[Decimal]) -> None:
        self.n = len(ys)
        self.x_mean = Decimal(self.n - 1) / 2
        y_mean = sum(ys, Decimal(0)) / self.n
        self.sxx = sum(((Decimal(x) - self.x_mean) ** 2 for x in range(self.n)), Decimal(0))
        sxy = sum(((Decimal(x) - self.x_mean) * (y - y_mean) for x, y in enumerate(ys)), Decimal(0))
        self.slope = sxy / self.sxx
        self.intercept = y_mean - self.slope * self.x_mean
        residuals = sum(((y - self.at(x)) ** 2 for x, y in enumerate(ys)), Decimal(0))
        self.residual_standard_error = (residuals / (self.n - 2)).sqrt()
        self.t = t_quantile_95(self.n - 2)

    def at(self, x: int) -> Decimal:
        return self.intercept + self.slope * x

    def interval_half_width(self, x: int) -> Decimal:
        spread = 1 + Decimal(1) / self.n + (Decimal(x) - self.x_mean) ** 2 / self.sxx
        return self.t * self.residual_standard_error * spread.sqrt()


async def revenue_forecast(
    session: AsyncSession, principal: Principal, *, months: int, history: int, time_zone: ZoneInfo
) -> ReportRead[ForecastRow]:
    """Monthly revenue of the last `history` full months, a linear trend, and `months` forecast with a 95 % interval."""
    this_month = month_start(clock.now().astimezone(time_zone).date(), 0)
    first = month_start(this_month, -history)
    cents = await ReportRepository(session, principal).monthly_revenue(first, this_month)
    history_months = [month_start(first, i) for i in range(history)]
    revenue = [money_from_cents(cents.get((m.year, m.month), 0)) for m in history_months]
    fit = LinearFit(revenue)
    rows = [
        ForecastRow(month=f"{m:%Y-%m}", kind="actual", revenue=y, trend=to_money(fit.at(x)), lower=None, upper=None)
        for x, (m, y) in enumerate(zip(history_months, revenue, strict=True))
    ]
    for step in range(months):
        x = history + step
        point, half = fit.at(x), fit.interval_half_width(x)
        rows.append(
            ForecastRow(
                month=f"{month_start(this_month, step):%Y-%m}",
                kind="forecast",
                revenue=to_money(point),
                trend=to_money(point),
                lower=to_money(point - half),
                upper=to_money(point + half),
            )
        )
    four_places = Decimal("0.0001")
    facts: list[tuple[str, str, Scalar]] = [
        ("model", "Model", f"revenue = intercept + slope × x, x = 0 for {history_months[0]:%Y-%m}"),
        ("months_used", "Months used", history),
        ("slope", "Slope (per month)", fit.slope.quantize(four_places)),
        ("intercept", "Intercept", fit.intercept.quantize(four_places)),
        ("residual_standard_error", "Residual standard error", fit.residual_standard_error.quantize(four_places)),
        ("t_value", f"t (95 %, {history - 2} df)", fit.t),
        ("interval", "Interval", "forecast ± t × s × √(1 + 1/n + (x − mean x)² / Σ(x − mean x)²)"),
    ]
    return build_report(
        ForecastRow,
        "收入预测 Revenue forecast",
        parameters={"months": months, "history": history, "first_month": f"{first:%Y-%m}"},
        columns=(
            ("month", "Month", ColumnType.TEXT),
            ("kind", "Kind", ColumnType.TEXT),
            ("revenue", "Revenue", ColumnType.MONEY),
            ("trend", "Trend", ColumnType.MONEY),
            ("lower", "95 % low", ColumnType.MONEY),
            ("upper", "95 % high", ColumnType.MONEY),
        ),
        rows=rows,
        facts=facts,
    )


CUSTOMER_FIELDS = [
    Customer.region,
    Customer.level,
    Customer.industry,
    Customer.satisfaction,
    Customer.credit,
    Customer.address,
    Customer.postal_code,
    Customer.phone,
    Customer.fax,
    Customer.website,
    Customer.email,
    Customer.business_licence_no,
    Customer.legal_representative,
    Customer.registered_capital,
    Customer.annual_turnover,
    Customer.bank,
    Customer.bank_account,
    Customer.local_tax_no,
    Customer.national_tax_no,
]
CONTACT_FIELDS = [Contact.name, Contact.title, Contact.office_phone, Contact.mobile, Contact.email, Contact.notes]


async def data_quality(session: AsyncSession, principal: Principal) -> ReportRead[FieldQualityRow]:
    """Share of customers that look like duplicates (same normalized name, phone or email), and per-field missing rates."""
    repo = ReportRepository(session, principal)
    rows = []
    for entity, fields in (("customer", CUSTOMER_FIELDS), ("contact", CONTACT_FIELDS)):
        total, missing = await repo.missing_counts(fields)
        rows += [
            FieldQualityRow(entity=entity, field=field, missing=count, total=total, missing_rate=rate(count, total))
            for field, count in missing.items()
        ]
    found = await repo.duplicate_candidates()
    facts: list[tuple[str, str, Scalar]] = [
        ("customers", "Customers", found["customers"]),
        ("duplicate_candidates", "Duplicate candidates", found["candidates"]),
        ("duplicate_ratio", "Duplicate-candidate ratio (%)", rate(found["candidates"], found["customers"])),
        ("same_normalized_name", "Sharing a normalized name", found["name"]),
        ("same_phone", "Sharing a phone number", found["phone"]),
        ("same_email", "Sharing an email address", found["email"]),
    ]
    return build_report(
        FieldQualityRow,
        "数据质量 Data quality",
        parameters={},
        columns=(
            ("entity", "Entity", ColumnType.TEXT),
            ("field", "Field", ColumnType.TEXT),
            ("missing", "Missing", ColumnType.INTEGER),
            ("total", "Records", ColumnType.INTEGER),
            ("missing_rate", "Missing (%)", ColumnType.PERCENT),
        ),
        rows=rows,
        facts=facts,
    )
