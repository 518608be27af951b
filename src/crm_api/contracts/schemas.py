from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from crm_api.approvals.schemas import ApprovalSummary
from crm_api.contracts.policy import ContractAction, ContractStatus, InstallmentStatus, InvoiceKind
from crm_api.core.schemas import Id, InputModel, OutputModel, PatchModel, Text, VersionedOutput, example

Amount = Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=2, examples=["188000.00"])]


def _ordered(start: date | None, end: date | None) -> None:
    if start is not None and end is not None and end < start:
        raise PydanticCustomError("period", "end_date may not be before start_date")


class ContractCreate(InputModel):
    """From an accepted quote of the caller's (its total is the amount unless sent), or for a customer the caller owns."""

    model_config = example(
        {
            "customer_id": 4,
            "title": "2027年度供货合同",
            "amount": "120000.00",
            "start_date": "2027-01-01",
            "end_date": "2027-12-31",
        }
    )

    quote_id: Id | None = None
    customer_id: Id | None = None
    title: Annotated[str, Text(200)]
    amount: Amount | None = Field(default=None, description="Required without a quote; a quote's total otherwise")
    sign_date: date | None = None
    start_date: date
    end_date: date

    @model_validator(mode="after")
    def _valid(self) -> "ContractCreate":
        if (self.quote_id is None) == (self.customer_id is None):
            raise PydanticCustomError("counterparty", "Send exactly one of quote_id and customer_id")
        if self.quote_id is None and self.amount is None:
            raise PydanticCustomError("amount", "A contract without a quote states its amount")
        _ordered(self.start_date, self.end_date)
        return self


class ContractUpdate(PatchModel):
    model_config = example({"title": "2027年度供货合同（补充）"})
    not_nullable = frozenset({"title", "amount", "start_date", "end_date"})

    title: Annotated[str, Text(200)] | None = None
    amount: Amount | None = None
    sign_date: date | None = None
    start_date: date | None = None
    end_date: date | None = None

    @model_validator(mode="after")
    def _valid(self) -> "ContractUpdate":
        _ordered(self.start_date, self.end_date)
        return self


class TerminateBody(InputModel):
    model_config = example({"reason": "客户业务调整，双方协商解除"})
    reason: Annotated[str, Text(500)]


class ContractRead(VersionedOutput):
    id: int
    number: str
    customer_id: int
    customer_name: str
    quote_id: int | None
    owner_id: int
    owner_name: str
    title: str
    amount: Decimal
    sign_date: date | None
    start_date: date
    end_date: date
    status: ContractStatus
    submitted_at: datetime | None
    activated_at: datetime | None
    closed_at: datetime | None
    termination_reason: str | None
    created_at: datetime
    updated_at: datetime
    collected: Decimal = Field(description="Received so far, over all installments")
    outstanding: Decimal = Field(description="amount − collected")
    invoiced: Decimal = Field(description="Invoiced so far")
    approval: ApprovalSummary | None = Field(description="The latest approval request of the contract")
    allowed_actions: list[ContractAction] = Field(description="What the caller may do to this contract now")


class InstallmentCreate(InputModel):
    model_config = example({"due_date": "2027-09-30", "amount": "1000.00"})
    due_date: date
    amount: Amount


class InstallmentRead(OutputModel):
    id: int
    contract_id: int
    due_date: date
    amount: Decimal
    collected: Decimal
    status: InstallmentStatus = Field(description="paid when collected in full; overdue when past due and not paid")


class InstallmentOverdue(OutputModel):
    """The payload of `installment.overdue`, built in SQL for every installment the daily reminder finds overdue."""

    id: int = Field(description="The installment's id")
    contract_id: int
    contract_number: str
    owner_id: int
    due_date: date
    amount: Decimal
    collected: Decimal
    outstanding: Decimal = Field(description="amount − collected when the reminder ran")


class ReceiptCreate(InputModel):
    model_config = example({"amount": "1000.00", "received_on": "2026-12-01", "method": "bank_transfer"})
    amount: Amount
    received_on: date
    method: Annotated[str, Text(50)] = Field(examples=["bank_transfer"])


class ReceiptRead(OutputModel):
    id: int
    contract_id: int
    installment_id: int
    amount: Decimal
    received_on: date
    method: str
    recorded_by_id: int
    created_at: datetime


class InvoiceCreate(InputModel):
    model_config = example({"kind": "vat_special", "number": "31000000-00012345", "amount": "1000.00", "issued_on": "2026-12-01"})
    kind: InvoiceKind = Field(description="vat_ordinary 增值税普通发票, vat_special 增值税专用发票")
    number: Annotated[str, Text(50)]
    amount: Amount
    issued_on: date


class InvoiceRead(OutputModel):
    id: int
    contract_id: int
    kind: InvoiceKind
    number: str
    amount: Decimal
    issued_on: date
    created_by_id: int
    created_at: datetime
