"""Segments, RFM, campaigns, variants, touches and attribution as the API reads and writes them."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from crm_api.core.schemas import Id, InputModel, OutputModel, PatchModel, Text, VersionedOutput, example
from crm_api.core.types import to_money
from crm_api.customers.schemas import CustomerSearch
from crm_api.marketing.policy import CampaignAction, CampaignChannel, CampaignStatus, TouchKind

Score = Annotated[int, Field(ge=1, le=5)]
AttributionModel = Literal["first_touch", "last_touch", "linear"]
Budget = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2), AfterValidator(to_money)]
SCORES = ("recency", "frequency", "monetary")


class SegmentFilters(CustomerSearch, InputModel):
    """The customer list filters, plus RFM score ranges and the date of the last completed order."""

    recency_min: Score | None = None
    recency_max: Score | None = None
    frequency_min: Score | None = None
    frequency_max: Score | None = None
    monetary_min: Score | None = None
    monetary_max: Score | None = None
    last_order_before: date | None = Field(default=None, description="Last shipped or paid order before this day")
    last_order_after: date | None = Field(default=None, description="Last shipped or paid order after this day")

    @model_validator(mode="after")
    def _ranges_ordered(self) -> "SegmentFilters":
        for score in SCORES:
            low, high = getattr(self, f"{score}_min"), getattr(self, f"{score}_max")
            if low is not None and high is not None and low > high:
                raise ValueError(f"{score}_min is above {score}_max")
        return self


class SegmentCreate(InputModel):
    model_config = example(
        {"name": "华东大客户", "description": "上海的大客户", "filters": {"region": "shanghai", "level": "major"}}
    )
    name: Annotated[str, Text(100)]
    description: Annotated[str, Field(max_length=500)] | None = None
    filters: SegmentFilters = Field(default_factory=SegmentFilters)


class SegmentUpdate(PatchModel):
    model_config = example({"description": "上海、江苏的大客户"})
    not_nullable = frozenset({"name", "filters"})

    name: Annotated[str, Text(100)] | None = None
    description: Annotated[str, Field(max_length=500)] | None = None
    filters: SegmentFilters | None = None


class SegmentRead(VersionedOutput):
    id: int
    name: str
    description: str | None
    filters: SegmentFilters
    created_by_id: int | None
    created_by_name: str | None
    created_at: datetime
    updated_at: datetime


class SegmentCount(OutputModel):
    segment_id: int
    customers: int


class RfmRefreshResult(OutputModel):
    outcome: str = Field(description="`succeeded`, or `skipped` when a refresh is already running elsewhere")
    scored: int = Field(description="Customers with completed orders in the last 12 months, now scored")


class _CampaignFields(InputModel):
    goal: Annotated[str, Field(max_length=500)] | None = None
    segment_id: Id | None = Field(default=None, description="The segment whose customers' contacts are the audience")


class CampaignCreate(_CampaignFields):
    model_config = example(
        {
            "name": "国庆客户答谢",
            "budget": "20000.00",
            "starts_on": "2026-09-25",
            "ends_on": "2026-10-08",
            "channel": "email",
            "goal": "回访大客户",
            "segment_id": 1,
        }
    )
    name: Annotated[str, Text(200)]
    budget: Budget
    starts_on: date
    ends_on: date
    channel: CampaignChannel

    @model_validator(mode="after")
    def _period_ordered(self) -> "CampaignCreate":
        if self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        return self


class CampaignUpdate(PatchModel, _CampaignFields):
    model_config = example({"goal": "回访大客户并推荐新品"})
    not_nullable = frozenset({"name", "budget", "starts_on", "ends_on", "channel"})

    name: Annotated[str, Text(200)] | None = None
    budget: Budget | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    channel: CampaignChannel | None = None


class VariantCreate(InputModel):
    model_config = example({"name": "B", "subject": "新品发布会邀请", "body": "尊敬的客户：诚邀您参加新品发布会。", "weight": 1})
    name: Annotated[str, Text(100)]
    subject: Annotated[str, Text(300)]
    body: Annotated[str, Text(20_000)]
    weight: int = Field(default=1, ge=1, le=1000, description="Share of the audience relative to the other variants")


class VariantRead(VersionedOutput):
    id: int
    campaign_id: int
    name: str
    subject: str
    body: str
    weight: int


class CampaignRead(VersionedOutput):
    id: int
    name: str
    goal: str | None
    budget: Decimal
    starts_on: date
    ends_on: date
    channel: CampaignChannel
    status: CampaignStatus
    segment_id: int | None
    segment_name: str | None
    created_by_id: int | None
    created_by_name: str | None
    created_at: datetime
    updated_at: datetime
    variants: list[VariantRead]
    allowed_actions: list[CampaignAction] = Field(description="What the caller may do to this campaign now")


class AudienceMember(OutputModel):
    contact_id: int
    customer_id: int
    name: str
    email: str | None
    mobile: str | None
    variant_id: int | None = Field(description="The A/B variant this contact gets (null when the campaign has none)")


class AudiencePage(OutputModel):
    items: list[AudienceMember]
    next_cursor: str | None
    total: int | None = None
    excluded_without_consent: int = Field(description="Contacts of the segment's customers left out: no marketing consent")


class TouchCreate(InputModel):
    model_config = example({"contact_id": 1, "kind": "sent"})
    contact_id: Id
    variant_id: Id | None = Field(default=None, description="Defaults to the contact's assigned variant")
    kind: TouchKind
    at: datetime | None = Field(default=None, description="When it happened (with a time zone); defaults to now")

    @model_validator(mode="after")
    def _aware(self) -> "TouchCreate":
        if self.at is not None and self.at.tzinfo is None:
            raise ValueError("at needs a time zone")
        return self


class TouchRead(OutputModel):
    id: int
    campaign_id: int
    contact_id: int
    variant_id: int | None
    kind: TouchKind
    occurred_at: datetime


class VariantPerformance(OutputModel):
    variant_id: int | None = Field(description="Null: touches without a variant")
    variant_name: str | None
    sent: int
    opened: int
    clicked: int
    converted: int
    open_rate: Decimal | None = Field(description="opened / sent, 4 places; null when nothing was sent")
    click_rate: Decimal | None
    conversion_rate: Decimal | None


class CampaignPerformance(OutputModel):
    campaign_id: int
    variants: list[VariantPerformance]
    total: VariantPerformance


class CampaignReturn(OutputModel):
    campaign_id: int
    name: str
    channel: CampaignChannel
    budget: Decimal
    attributed_revenue: Decimal
    conversions: int = Field(description="Orders and won opportunities credited (in part, for linear) to the campaign")
    roi: Decimal | None = Field(description="(attributed revenue - budget) / budget, to the cent; null without budget")


class ChannelReturn(OutputModel):
    channel: CampaignChannel
    budget: Decimal
    attributed_revenue: Decimal
    roi: Decimal | None


class Attribution(OutputModel):
    model: AttributionModel
    date_from: date | None
    date_to: date | None
    campaigns: list[CampaignReturn]
    channels: list[ChannelReturn]
