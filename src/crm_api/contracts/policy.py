"""The contract's vocabulary and rules (SPEC §3.13): draft → pending_approval → active → completed | terminated.

Approval is always needed (§3.14): an approved request makes the contract active, a rejected or withdrawn
one returns it to draft.
"""

from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, and_

from crm_api.core.errors import DomainError, Forbidden
from crm_api.core.permissions import Principal, scope_clause
from crm_api.core.rules import RuleTable, conflict, holds, status_in

if TYPE_CHECKING:  # the model imports this module for its statuses
    from crm_api.models.contract import Contract


class ContractStatus(StrEnum):
    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    ACTIVE = "active"
    COMPLETED = "completed"
    TERMINATED = "terminated"


# Business the CRM counts as signed (target attainment, contract vs collected): approved and not terminated.
SIGNED_STATUSES = (ContractStatus.ACTIVE, ContractStatus.COMPLETED)
# What is still owed is owed on active contracts: a completed one is settled, a terminated one no longer collects.
RECEIVABLE_STATUSES = (ContractStatus.ACTIVE,)
READ = "contracts:read"


class ContractAction(StrEnum):
    EDIT = "edit"
    SUBMIT = "submit"
    COMPLETE = "complete"
    TERMINATE = "terminate"
    PLAN = "plan"  # add payment installments
    COLLECT = "collect"  # record a receipt
    INVOICE = "invoice"


class InvoiceKind(StrEnum):
    VAT_ORDINARY = "vat_ordinary"  # 增值税普通发票
    VAT_SPECIAL = "vat_special"  # 增值税专用发票


class InstallmentStatus(StrEnum):
    """Derived when read: it depends on today's date as much as on the receipts."""

    PENDING = "pending"
    PARTIAL = "partial"
    PAID = "paid"
    OVERDUE = "overdue"


# Signed and in force or fulfilled: what the weekly report counts as signed in its week (by sign date).
SIGNED = (ContractStatus.ACTIVE, ContractStatus.COMPLETED)


def installment_status(*, amount: Decimal, collected: Decimal, due_date: date, today: date) -> InstallmentStatus:
    """The status an installment shows; `overdue` is the rule `overdue_installments` states in SQL."""
    if collected >= amount:
        return InstallmentStatus.PAID
    if due_date < today:
        return InstallmentStatus.OVERDUE
    return InstallmentStatus.PARTIAL if collected > 0 else InstallmentStatus.PENDING


def overdue_installments(today: date) -> ColumnElement[bool]:
    """Past due with something outstanding: `installment_status` says `overdue` of exactly these."""
    from crm_api.models.contract import Installment

    return and_(Installment.collected < Installment.amount, Installment.due_date < today)


def installments_due_soon(today: date, days: int) -> ColumnElement[bool]:
    """Due between today and `days` days from now, with something outstanding."""
    from crm_api.models.contract import Installment

    return and_(
        Installment.collected < Installment.amount,
        Installment.due_date >= today,
        Installment.due_date <= today + timedelta(days=days),
    )


WRITE = "contracts:write"


def _is_owner(contract: "Contract", actor: Principal) -> DomainError | None:
    if contract.owner_id != actor.user_id:
        return Forbidden("Only the contract's owner may do this", code="contract.not_owner")
    return None


_DRAFT = status_in([ContractStatus.DRAFT], conflict("contract.not_draft", "The contract is {status}; only a draft allows this"))
_ACTIVE = status_in(
    [ContractStatus.ACTIVE], conflict("contract.not_active", "The contract is {status}; this needs an active one")
)
_OWNER_ACTIVE = (holds(WRITE), _is_owner, _ACTIVE)

RULES: RuleTable["Contract", ContractAction] = RuleTable(
    {
        ContractAction.EDIT: (holds(WRITE), _is_owner, _DRAFT),
        ContractAction.SUBMIT: (holds(WRITE), _is_owner, _DRAFT),
        ContractAction.COMPLETE: _OWNER_ACTIVE,
        ContractAction.TERMINATE: _OWNER_ACTIVE,
        ContractAction.PLAN: _OWNER_ACTIVE,
        ContractAction.COLLECT: _OWNER_ACTIVE,
        ContractAction.INVOICE: _OWNER_ACTIVE,
    }
)


def visible(principal: Principal, permission: str, *, named: bool = False) -> ColumnElement[bool]:
    """A contract is visible when its owner is within the caller's scope (`named`: see `scope_clause`)."""
    from crm_api.models.contract import Contract

    return scope_clause(principal, permission, Contract.owner_id, named=named)
