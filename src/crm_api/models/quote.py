"""Quotes (报价单) with their priced lines; each revision is a new row, the old one frozen."""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_api.core.orm import Base, IntPK, Timestamped, Versioned
from crm_api.core.rules import status_check
from crm_api.core.types import ExactDecimal
from crm_api.models.identity import User
from crm_api.quotes.policy import QuoteStatus

Percent = ExactDecimal(5, 2)


class Quote(Versioned, Timestamped, Base):
    __tablename__ = "quotes"
    __table_args__ = (
        status_check(QuoteStatus),
        CheckConstraint("(customer_id IS NULL) <> (opportunity_id IS NULL)", name="one_counterparty"),
        Index("ix_quotes_owner_id_id", "owner_id", "id"),
        Index("ix_quotes_status_valid_until", "status", "valid_until"),
        Index("ix_quotes_number_revision", "number", "revision", unique=True),
        Index("ix_quotes_customer_id", "customer_id"),
        Index("ix_quotes_opportunity_id", "opportunity_id"),
    )

    id: Mapped[IntPK]
    number: Mapped[str] = mapped_column(String(20))
    revision: Mapped[int] = mapped_column(default=1)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunities.id"))
    counterparty_name: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(String(2000))
    valid_until: Mapped[date]
    status: Mapped[str] = mapped_column(String(20))
    subtotal: Mapped[Decimal]
    discount: Mapped[Decimal]
    tax: Mapped[Decimal]
    total: Mapped[Decimal]
    max_discount: Mapped[Decimal] = mapped_column(Percent)
    submitted_at: Mapped[datetime | None]
    approved_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    responded_at: Mapped[datetime | None]
    response_by: Mapped[str | None] = mapped_column(String(100))
    response_note: Mapped[str | None] = mapped_column(String(2000))
    response_recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    expired_at: Mapped[datetime | None]
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("quotes.id"))
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("quotes.id"))

    owner: Mapped[User] = relationship(lazy="joined", innerjoin=True, foreign_keys=[owner_id])
    lines: Mapped[list["QuoteLine"]] = relationship(cascade="all, delete-orphan", lazy="selectin", order_by="QuoteLine.line_no")


class QuoteLine(Base):
    __tablename__ = "quote_lines"
    __table_args__ = (Index("ix_quote_lines_quote_id_line_no", "quote_id", "line_no", unique=True),)

    id: Mapped[IntPK]
    quote_id: Mapped[int] = mapped_column(ForeignKey("quotes.id", ondelete="CASCADE"))
    line_no: Mapped[int]
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    product_code: Mapped[str | None] = mapped_column(String(64))
    product_name: Mapped[str] = mapped_column(String(200))
    model: Mapped[str | None] = mapped_column(String(100))
    unit: Mapped[str | None] = mapped_column(String(20))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal(14, 3))
    unit_price: Mapped[Decimal]
    discount_percent: Mapped[Decimal] = mapped_column(Percent)
    tax_rate: Mapped[Decimal] = mapped_column(Percent)
    subtotal: Mapped[Decimal]
    discount: Mapped[Decimal]
    tax: Mapped[Decimal]
    total: Mapped[Decimal]
