"""Contracts (合同): signed with a customer, from an accepted quote or on their own."""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from crm_api.contracts.policy import ContractStatus, InvoiceKind
from crm_api.core.clock import clock
from crm_api.core.orm import Base, IntPK, Timestamped, Versioned
from crm_api.core.references import name_of
from crm_api.core.rules import one_of, status_check
from crm_api.models.identity import User

OPEN_INSTALLMENT = "collected < amount"


class Contract(Versioned, Timestamped, Base):
    __tablename__ = "contracts"
    __table_args__ = (
        status_check(ContractStatus),
        CheckConstraint("end_date >= start_date", name="period_ordered"),
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_contracts_owner_id_id", "owner_id", "id"),
        Index("ix_contracts_customer_id", "customer_id"),
        # Contracts signed in a period (target attainment, contract vs collected).
        Index("ix_contracts_sign_date", "sign_date", postgresql_include=["status", "owner_id", "amount"]),
    )

    id: Mapped[IntPK]
    number: Mapped[str] = mapped_column(String(20), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    customer_name: Mapped[str] = mapped_column(String(200))
    # One contract per accepted quote.
    quote_id: Mapped[int | None] = mapped_column(ForeignKey("quotes.id"), unique=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    owner_name: Mapped[str | None] = name_of(User.full_name, owner_id)
    title: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal]
    sign_date: Mapped[date | None]
    start_date: Mapped[date]
    end_date: Mapped[date]
    status: Mapped[str] = mapped_column(String(20))
    submitted_at: Mapped[datetime | None]
    activated_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    termination_reason: Mapped[str | None] = mapped_column(String(500))


class Installment(Base):
    """One due payment of a contract's plan; `collected` only grows, by receipts, never past `amount`."""

    __tablename__ = "contract_installments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("collected >= 0 AND collected <= amount", name="collected_within_amount"),
        Index("ix_contract_installments_contract_id_due_date", "contract_id", "due_date"),
        # What is still owed (receivables aging) reads only the installments not yet paid in full, from the index
        # alone on PostgreSQL.
        Index(
            "ix_contract_installments_open",
            "contract_id",
            "due_date",
            sqlite_where=text(OPEN_INSTALLMENT),
            postgresql_where=text(OPEN_INSTALLMENT),
            postgresql_include=["amount", "collected"],
        ),
    )

    id: Mapped[IntPK]
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"))
    due_date: Mapped[date]
    amount: Mapped[Decimal]
    collected: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    # When the daily reminder announced it as due soon, and as overdue: each at most once.
    due_soon_notified_at: Mapped[datetime | None]
    overdue_notified_at: Mapped[datetime | None]


class Receipt(Base):
    __tablename__ = "contract_receipts"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_contract_receipts_installment_id", "installment_id"),
        # Receipts of a period (collected per month; aging as of a past day adds back the later ones).
        Index("ix_contract_receipts_received_on", "received_on", postgresql_include=["contract_id", "installment_id", "amount"]),
    )

    id: Mapped[IntPK]
    installment_id: Mapped[int] = mapped_column(ForeignKey("contract_installments.id", ondelete="CASCADE"))
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"), index=True)
    amount: Mapped[Decimal]
    received_on: Mapped[date]
    method: Mapped[str] = mapped_column(String(50))
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class Invoice(Base):
    __tablename__ = "contract_invoices"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(one_of("kind", InvoiceKind), name="kind_known"),
    )

    id: Mapped[IntPK]
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    number: Mapped[str] = mapped_column(String(50), unique=True)
    amount: Mapped[Decimal]
    issued_on: Mapped[date]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
