from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Generic, TypeVar

from pydantic import Field

from crm_api.core.schemas import InputModel, OutputModel, PatchModel, Text, VersionedOutput, example
from crm_api.models.sales import DEFAULT_TAX_RATE

MAX_BATCH = 1000

Amount = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
Quantity = Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=3)]
ExternalId = Annotated[str, Text(64), Field(description="The sales system's id of the record")]

Item = TypeVar("Item", bound=InputModel)


class SyncBatch(InputModel, Generic[Item]):
    items: list[Item] = Field(min_length=1, max_length=MAX_BATCH, description=f"1 to {MAX_BATCH} records")


class SyncResult(OutputModel):
    created: int
    updated: int
    unchanged: int


class ProductIn(InputModel):
    model_config = example({"external_id": "ERP-P100", "name": "镀锌钢板", "model": "DX51D", "unit": "吨", "price": "4800.00"})
    external_id: ExternalId
    name: Annotated[str, Text(200)]
    model: Annotated[str, Text(100)] | None = None
    batch: Annotated[str, Text(100)] | None = None
    unit: Annotated[str, Text(20)] | None = None
    price: Amount | None = None


class InventoryIn(InputModel):
    model_config = example(
        {"external_id": "ERP-I100", "product_external_id": "DEMO-P001", "warehouse": "上海一号仓", "quantity": 120}
    )
    external_id: ExternalId
    product_external_id: Annotated[str, Text(64)]
    warehouse: Annotated[str, Text(100)]
    location: Annotated[str, Text(100)] | None = None
    quantity: int = Field(ge=0, le=2_000_000_000)


class OrderLineIn(InputModel):
    product_external_id: Annotated[str, Text(64)]
    quantity: Quantity
    unit: Annotated[str, Text(20)] | None = None
    unit_price: Amount


class OrderIn(InputModel):
    model_config = example(
        {
            "external_id": "ERP-O100",
            "number": "SO-2026-0100",
            "customer_code": "KH00000001",
            "order_date": "2026-06-01",
            "status": 5,
            "lines": [{"product_external_id": "DEMO-P001", "quantity": 2, "unit_price": "4800.00"}],
        }
    )
    external_id: ExternalId
    number: Annotated[str, Text(64)]
    customer_code: Annotated[str, Text(20)] | None = Field(
        default=None, description="The customer's CRM code; or send customer_external_id"
    )
    customer_external_id: Annotated[str, Text(64)] | None = Field(
        default=None, description="The customer's sales-system id; or send customer_code"
    )
    order_date: date
    shipping_address: Annotated[str, Text(300)] | None = None
    status: int = Field(ge=1, le=6, description="1–6; 5 = shipped (已发货), 6 = paid (已回款)")
    lines: list[OrderLineIn] = Field(min_length=1, max_length=500, description="Replace the order's lines wholesale")
    total: Amount | None = Field(default=None, description="Optional check: must equal the sum of the lines")


TaxRate = Annotated[Decimal, Field(ge=0, le=100, max_digits=5, decimal_places=2, description="Percent", examples=["13.00"])]
ProductCode = Annotated[str, Text(64), Field(description="Code / SKU, unique", examples=["SKU-1001"])]


class ProductCreate(InputModel):
    """A product of the CRM's own catalogue (the sales system's arrive through its ingest)."""

    model_config = example(
        {"code": "P-DEMO-100", "name": "镀锌钢板", "model": "DX51D", "unit": "吨", "price": "4800.00", "tax_rate": "13"}
    )

    code: ProductCode
    name: Annotated[str, Text(200)]
    model: Annotated[str, Text(100)] | None = None
    batch: Annotated[str, Text(100)] | None = None
    unit: Annotated[str, Text(20)] | None = None
    price: Amount = Field(description="List price per unit", examples=["1280.00"])
    tax_rate: TaxRate = DEFAULT_TAX_RATE
    active: bool = True


class ProductUpdate(PatchModel):
    """An admin's edit; the sales system's next upsert overwrites name, model, batch, unit and price of its products."""

    model_config = example({"price": "4750.00"})

    not_nullable = frozenset({"name", "tax_rate", "active"})

    code: ProductCode | None = None
    name: Annotated[str, Text(200)] | None = None
    model: Annotated[str, Text(100)] | None = None
    batch: Annotated[str, Text(100)] | None = None
    unit: Annotated[str, Text(20)] | None = None
    price: Amount | None = Field(default=None, description="List price per unit")
    tax_rate: TaxRate | None = None
    active: bool | None = None


class ProductRead(VersionedOutput):
    id: int
    external_id: str | None = Field(description="The sales system's id; null for the CRM's own products")
    code: str | None
    name: str
    model: str | None
    batch: str | None
    unit: str | None
    price: Decimal | None = Field(description="List price per unit")
    tax_rate: Decimal = Field(description="Percent")
    active: bool = Field(description="Inactive products are kept but cannot be quoted")
    synced_at: datetime = Field(description="When the sales system or an admin last wrote the product")


class InventoryRead(OutputModel):
    id: int
    external_id: str
    product_id: int
    product_name: str
    warehouse: str
    location: str | None
    quantity: int
    synced_at: datetime


class OrderSummary(OutputModel):
    id: int
    number: str
    customer_id: int
    order_date: date
    shipping_address: str | None
    status: int
    total: Decimal


class OrderLineRead(OutputModel):
    line_no: int
    product_id: int | None
    product_name: str
    quantity: Decimal
    unit: str | None
    unit_price: Decimal
    amount: Decimal = Field(description="quantity × unit price, to the cent")


class OrderDetail(OrderSummary):
    external_id: str
    synced_at: datetime
    lines: list[OrderLineRead]
