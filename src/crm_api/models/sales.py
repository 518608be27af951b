"""Read model of the sales system: products, inventory and orders, upserted by external id."""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, SmallInteger, String, text, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_api.core.clock import clock
from crm_api.core.orm import Base, IntPK, Versioned
from crm_api.core.types import ExactDecimal

# China's VAT rate on goods, in percent: a product's tax rate until an admin sets another.
DEFAULT_TAX_RATE = Decimal("13.00")
SHIPPED = 5
PAID = 6
# Orders a customer's history and revenue figures count: shipped (已发货) or paid (已回款).
COMPLETED_ORDER_STATUSES = (SHIPPED, PAID)


class Product(Versioned, Base):
    """The catalogue: the sales system upserts its products by `external_id`; an admin edits codes, list
    prices, tax rates and adds products of the CRM's own (no `external_id`)."""

    __tablename__ = "products"

    id: Mapped[IntPK]
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    model: Mapped[str | None] = mapped_column(String(100), index=True)
    batch: Mapped[str | None] = mapped_column(String(100))
    unit: Mapped[str | None] = mapped_column(String(20))
    price: Mapped[Decimal | None]  # the list price
    synced_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)
    code: Mapped[str | None] = mapped_column(String(64), unique=True)
    tax_rate: Mapped[Decimal] = mapped_column(
        ExactDecimal(5, 2), default=DEFAULT_TAX_RATE, server_default=text(f"'{DEFAULT_TAX_RATE}'")
    )
    active: Mapped[bool] = mapped_column(default=True, server_default=true())


class InventoryItem(Base):
    __tablename__ = "inventory_items"

    id: Mapped[IntPK]
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    warehouse: Mapped[str] = mapped_column(String(100), index=True)
    location: Mapped[str | None] = mapped_column(String(100))
    quantity: Mapped[int]
    synced_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    product: Mapped[Product] = relationship(lazy="raise")


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("status BETWEEN 1 AND 6", name="status_range"),
        Index("ix_orders_customer_id_status_order_date", "customer_id", "status", "order_date"),
    )

    id: Mapped[IntPK]
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    order_date: Mapped[date]
    shipping_address: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[int]
    total: Mapped[Decimal]
    synced_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    lines: Mapped[list["OrderLine"]] = relationship(cascade="all, delete-orphan", lazy="raise", order_by="OrderLine.line_no")


class OrderLine(Base):
    __tablename__ = "order_lines"

    id: Mapped[IntPK]
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    line_no: Mapped[int]
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    product_name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal(14, 3))
    unit: Mapped[str | None] = mapped_column(String(20))
    unit_price: Mapped[Decimal]


# `CustomerRevenue.year` of the row that spans every year of a customer's orders.
ALL_YEARS = 0


class CustomerRevenue(Base):
    """A customer's shipped and paid orders per order-date year, and over all years (`year` = ALL_YEARS).

    Kept by database triggers on `orders` (migration 0010), so every writer of orders keeps it true:
    the contribution report ranks a million customers from here instead of summing five million orders.
    A customer whose completed orders all went away keeps a row with zero orders.
    """

    __tablename__ = "customer_revenue"
    __table_args__ = (
        Index("ix_customer_revenue_year_revenue_cents", "year", "revenue_cents", "customer_id"),
        # Merging customers moves their orders, and the triggers move the revenue with them.
        {"info": {"derived_from": "orders"}},
    )

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    order_count: Mapped[int] = mapped_column(Integer)
    revenue_cents: Mapped[int] = mapped_column(BigInteger)
