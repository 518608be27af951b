from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from crm_api.approvals.schemas import ApprovalSummary
from crm_api.core.schemas import Id, InputModel, OutputModel, PatchModel, Text, VersionedOutput, example
from crm_api.quotes.policy import QuoteAction, QuoteStatus

Amount = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
Percent = Annotated[Decimal, Field(ge=0, le=100, max_digits=5, decimal_places=2, description="Percent")]
Quantity = Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=3)]

PRICING_RULE = (
    "Totals are computed by the server in exact decimals, each amount rounded half up to 2 places per line: "
    "line `subtotal` = quantity × unit_price; `discount` = subtotal × discount_percent / 100; "
    "`tax` = (subtotal − discount) × tax_rate / 100; `total` = subtotal − discount + tax. "
    "The quote's subtotal, discount, tax and total are the sums of its lines' (so total = subtotal − discount + tax)."
)


class QuoteLineIn(InputModel):
    product_id: Id = Field(description="An active product of the catalogue")
    quantity: Quantity = Field(examples=["10"])
    unit_price: Amount | None = Field(default=None, description="Absent: the product's list price", examples=["1280.00"])
    discount_percent: Percent = Field(default=Decimal("0"), examples=["5"])
    tax_rate: Percent | None = Field(default=None, description="Absent: the product's tax rate")


Lines = Annotated[list[QuoteLineIn], Field(min_length=1, max_length=200)]


class QuoteCreate(InputModel):
    """For an opportunity assigned to the caller, or a customer the caller owns: exactly one of the two."""

    model_config = example(
        {
            "customer_id": 4,
            "title": "热轧螺纹钢年度采购报价",
            "lines": [{"product_id": 1, "quantity": "10", "discount_percent": "5"}],
        }
    )

    opportunity_id: Id | None = None
    customer_id: Id | None = None
    title: Annotated[str, Text(200)]
    notes: Annotated[str, Text(2000)] | None = None
    valid_until: date | None = Field(default=None, description="Absent: today plus the validity setting (30 days)")
    lines: Lines

    @model_validator(mode="after")
    def _one_counterparty(self) -> "QuoteCreate":
        if (self.opportunity_id is None) == (self.customer_id is None):
            raise PydanticCustomError("counterparty", "Send exactly one of opportunity_id and customer_id")
        return self


class QuoteUpdate(PatchModel):
    """A draft's changes; `lines`, when sent, replace the lines wholesale."""

    model_config = example({"title": "热轧螺纹钢年度采购报价（修订）", "notes": "含运费"})

    not_nullable = frozenset({"title", "valid_until", "lines"})

    title: Annotated[str, Text(200)] | None = None
    notes: Annotated[str, Text(2000)] | None = None
    valid_until: date | None = None
    lines: Lines | None = None


class CustomerAnswer(InputModel):
    """What the customer said, as the owner records it."""

    model_config = example({"answered_by": "陈静", "note": "价格可以接受"})

    answered_by: Annotated[str, Text(100)] = Field(description="Who at the customer answered", examples=["王经理"])
    note: Annotated[str, Text(2000)] | None = None


class QuoteLineRead(OutputModel):
    line_no: int
    product_id: int
    product_code: str | None
    product_name: str
    model: str | None
    unit: str | None
    quantity: Decimal
    unit_price: Decimal
    discount_percent: Decimal
    tax_rate: Decimal
    subtotal: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal


class QuoteRead(VersionedOutput):
    id: int
    number: str = Field(description="The same for every revision of the quote")
    revision: int = Field(description="1 for the first version, +1 per revision")
    opportunity_id: int | None
    customer_id: int | None
    counterparty_name: str = Field(description="The customer's name, or the opportunity's prospective customer")
    owner_id: int
    owner_name: str
    title: str
    notes: str | None
    valid_until: date
    status: QuoteStatus
    subtotal: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal
    max_discount: Decimal = Field(description="The largest line discount, percent: above the threshold it needs approval")
    submitted_at: datetime | None
    approved_at: datetime | None
    sent_at: datetime | None
    responded_at: datetime | None
    response_by: str | None
    response_note: str | None
    expired_at: datetime | None
    previous_id: int | None = Field(description="The version this one revised")
    superseded_by_id: int | None = Field(description="Set once revised: this version is frozen")
    created_at: datetime
    updated_at: datetime
    lines: list[QuoteLineRead]
    approval: ApprovalSummary | None = Field(description="The latest approval request of this version")
    allowed_actions: list[QuoteAction] = Field(description="What the caller may do to this quote now")
