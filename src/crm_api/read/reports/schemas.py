"""What every report answers: a titled table (typed columns, rows, totals) plus the inputs and facts behind it."""

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Generic, TypeVar

from pydantic import BaseModel

Scalar = str | int | Decimal | date | None


class ColumnType(StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    MONEY = "money"  # Decimal with 2 places, in the currency setting
    PERCENT = "percent"  # Decimal with 2 places, 0–100
    NUMBER = "number"  # any other measured Decimal (hours, days, a mean), 2 places
    DATE = "date"


class ReportColumn(BaseModel):
    key: str
    label: str
    type: ColumnType


class ReportFact(BaseModel):
    """One figure about the whole report (a model coefficient, a ratio) shown above the table."""

    key: str
    label: str
    value: Scalar


RowT = TypeVar("RowT", bound=BaseModel)


class ReportRead(BaseModel, Generic[RowT]):
    title: str
    generated_at: datetime
    parameters: dict[str, Scalar]
    columns: list[ReportColumn]
    rows: list[RowT]
    # Sums of the additive columns, keyed like the rows; empty when nothing adds up.
    totals: dict[str, Scalar]
    facts: list[ReportFact] = []
    # Reports of one row per customer come a page at a time; pass it as `cursor` for the next page.
    next_cursor: str | None = None


@dataclass(frozen=True)
class ReportFile(Generic[RowT]):
    """A whole report for a file: its title, columns and totals read first, its rows read while the file is sent."""

    report: ReportRead[RowT]  # rows empty
    # Each row's cells in the order of the report's columns.
    lines: AsyncIterator[Sequence[Scalar]]
    row_count: int


class ContributionRow(BaseModel):
    customer_id: int
    customer_code: str
    customer_name: str
    owner_name: str
    order_count: int
    revenue: Decimal


class CompositionRow(BaseModel):
    # None is the "unset" bucket: customers with no value for the field.
    value: str | None
    label: str
    count: int
    share: Decimal


class ForecastRow(BaseModel):
    month: str
    kind: str  # "actual" or "forecast"
    revenue: Decimal
    trend: Decimal
    lower: Decimal | None
    upper: Decimal | None


class FieldQualityRow(BaseModel):
    entity: str
    field: str
    missing: int
    total: int
    missing_rate: Decimal


class ChurnRow(BaseModel):
    warning_id: int
    customer_code: str
    customer_name: str
    owner_name: str
    confirmed_on: date  # in the business time zone
    reason: str | None
    last_order_date: date | None


class FunnelRow(BaseModel):
    stage: str
    label: str
    unassigned: int
    assigned: int
    won: int
    lost: int
    total: int
    expected_amount: Decimal
    # Opportunities at this stage or a later one, or won: a win passes every stage.
    reached: int
    # Share of `reached` that reached the next stage (the last stage: that were won); None when none reached.
    conversion: Decimal | None


class PerformanceRow(BaseModel):
    user_id: int
    name: str
    assigned: int
    won: int
    lost: int
    win_rate: Decimal | None  # won / (won + lost), in percent
    median_days_to_win: Decimal | None
    revenue: Decimal


class ServiceMonthRow(BaseModel):
    month: str
    tickets: int
    first_handling_median_hours: Decimal | None
    first_handling_p90_hours: Decimal | None
    archive_median_hours: Decimal | None
    archive_p90_hours: Decimal | None
    sla_breach_rate: Decimal | None
    satisfaction_average: Decimal | None
