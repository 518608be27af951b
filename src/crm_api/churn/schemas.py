from datetime import date, datetime
from typing import Annotated

from pydantic import Field

from crm_api.churn.policy import ChurnWarningAction, ChurnWarningStatus
from crm_api.core.schemas import InputModel, OutputModel, Text, VersionedOutput, example


class MeasureCreate(InputModel):
    model_config = example({"measure": "安排销售经理上门拜访，了解停止下单的原因"})
    measure: Annotated[str, Text(2000)]


class ConfirmChurn(InputModel):
    model_config = example({"reason": "客户已转向竞争对手，多次回访无果"})
    reason: Annotated[str, Text(2000)]


class MeasureRead(OutputModel):
    id: int
    measure: str
    author_id: int
    author_name: str
    created_at: datetime


class ChurnCustomer(OutputModel):
    id: int
    code: str
    name: str
    status: str


class ChurnOwner(OutputModel):
    id: int
    username: str
    full_name: str


class ChurnReasons(OutputModel):
    """Why the customer looks lost, measured today."""

    days_since_last_order: int = Field(
        description="Days since the last shipped or paid order; since the customer was created when there is none"
    )
    has_completed_orders: bool
    period_months: int = Field(description="Length of each compared period (the churn setting)")
    orders_last_period: int = Field(description="Shipped or paid orders in the last period")
    orders_previous_period: int = Field(description="Shipped or paid orders in the period before that")


class ChurnWarningRead(VersionedOutput):
    id: int
    status: ChurnWarningStatus
    customer: ChurnCustomer
    owner: ChurnOwner
    last_order_date: date | None
    opened_at: datetime
    confirmed_at: datetime | None
    confirmed_by_id: int | None
    confirmed_by_name: str | None
    confirm_reason: str | None
    allowed_actions: list[ChurnWarningAction]


class ChurnWarningDetail(ChurnWarningRead):
    reasons: ChurnReasons
    measures: list[MeasureRead]


class ScanResult(OutputModel):
    outcome: str = Field(description="`succeeded`, or `skipped` when a scan is already running elsewhere")
    opened: int = Field(description="Warnings this run opened")


class ChurnWarningOpened(OutputModel):
    """The payload of `churn_warning.opened`, built in SQL for every warning a scan opens."""

    warning_id: int
    customer_id: int
    last_order_date: date | None = Field(description="The customer's last shipped or paid order when the warning opened")
