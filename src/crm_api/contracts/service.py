"""Contracts (SPEC §3.13): drawn from an accepted quote or for an owned customer, active once approved (§3.14)."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.approvals import service as approvals
from crm_api.approvals.policy import ApprovalStatus
from crm_api.approvals.schemas import ApprovalSummary
from crm_api.approvals.subjects import SubjectFacts, register_subject
from crm_api.contracts.policy import (
    READ,
    RULES,
    WRITE,
    ContractAction,
    ContractStatus,
    installment_status,
)
from crm_api.contracts.repository import CONTRACT_ID, ContractRepository, PaymentRepository
from crm_api.contracts.schemas import (
    ContractCreate,
    ContractRead,
    ContractUpdate,
    InstallmentCreate,
    InstallmentRead,
    InvoiceCreate,
    InvoiceRead,
    ReceiptCreate,
    ReceiptRead,
)
from crm_api.core import audit
from crm_api.core.clock import clock, local_today
from crm_api.core.codes import next_code
from crm_api.core.config import Settings
from crm_api.core.db import read_rows, records
from crm_api.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from crm_api.core.http import check_if_match
from crm_api.core.outbox import EventType, RecordEvents
from crm_api.core.pagination import Page, PageParams, PageRows
from crm_api.core.permissions import PerScopeShape, Principal, scope_values
from crm_api.core.transitions import transition
from crm_api.customers import service as customers
from crm_api.models.contract import Contract, Installment, Invoice, Receipt
from crm_api.quotes import service as quotes

ENTITY = "contract"
EVENTS = RecordEvents(ENTITY, ContractRead, "A contract", changes=("created", "updated"))
ACTIVATED = EventType("contract.activated", "A contract was approved and is now active", ContractRead)
PAYMENT_RECEIVED = EventType("payment.received", "A receipt was recorded against an installment of a contract", ReceiptRead)


ZERO = Decimal("0.00")
# `read_by_id`'s and `list_installments`' statements: building one cost a read a third of its instructions.
_BY_ID: PerScopeShape[Select[Any]] = PerScopeShape()
_LISTED: PerScopeShape[Select[Any]] = PerScopeShape()
_INSTALLMENTS: PerScopeShape[Select[Installment]] = PerScopeShape()


@dataclass(frozen=True)
class Money:
    """What a contract's representation shows of its payments and invoices."""

    collected: Decimal = ZERO
    invoiced: Decimal = ZERO


# ContractRead's fields a contract's columns hold; the others are computed.
_STORED = tuple(
    name
    for name in ContractRead.model_fields
    if name not in {"approval", "allowed_actions", "collected", "outstanding", "invoiced"}
)
# What a list or a read by id selects of each contract: those columns, each labelled with its field's name.
_READ_COLUMNS = tuple(getattr(Contract, name).label(name) for name in _STORED)


def _read_of(
    stored: dict[str, Any], contract: Any, actor: Principal | None, approval: ApprovalSummary | None, money: Money
) -> ContractRead:
    """The representation of a contract (`contract`: what RULES reads, an entity or its columns as attributes)."""
    return ContractRead(
        **stored,
        collected=money.collected,
        outstanding=stored["amount"] - money.collected,
        invoiced=money.invoiced,
        approval=approval,
        allowed_actions=RULES.allowed_actions(contract, actor) if actor is not None else [],
    )


def to_read(contract: Contract, actor: Principal | None, approval: ApprovalSummary | None, money: Money) -> ContractRead:
    return _read_of({name: getattr(contract, name) for name in _STORED}, contract, actor, approval, money)


async def _money(session: AsyncSession, contract_ids: list[int]) -> dict[int, Money]:
    sums = await PaymentRepository(session).collected_and_invoiced(contract_ids)
    return {i: Money(*sums.get(i, (ZERO, ZERO))) for i in contract_ids}


async def read(session: AsyncSession, contract: Contract, actor: Principal | None) -> ContractRead:
    summaries = await approvals.summaries(session, ENTITY, [contract.id])
    money = await _money(session, [contract.id])
    return to_read(contract, actor, summaries.get(contract.id), money[contract.id])


def _with_money_and_approval(statement: Select[Contract]) -> Select[Any]:
    """The representation's columns of the contracts `statement` selects, each with its collected and invoiced sums
    and its latest approval request (`_read_of_record`): plain rows, no ORM object."""
    columns = statement.with_only_columns(*_READ_COLUMNS)
    return approvals.with_latest_summary(ContractRepository.with_money(columns), ENTITY, Contract)


def _read_of_record(record: dict[str, Any], actor: Principal) -> ContractRead:
    stored = {name: record[name] for name in _STORED}
    money = Money(Decimal(record["collected"]), Decimal(record["invoiced"]))
    return _read_of(stored, SimpleNamespace(**stored), actor, approvals.summary_of_record(record), money)


async def read_by_id(session: AsyncSession, actor: Principal, contract_id: int) -> ContractRead:
    """GET of a contract: the contract with its owner, its money and its latest approval in one statement, so it
    reads without a transaction (`read` asks three)."""
    statement = _BY_ID.get(actor, READ, lambda: _with_money_and_approval(ContractRepository.readable_by_id(actor, READ)))
    found = records(await read_rows(session, statement, scope_values(actor) | {CONTRACT_ID: contract_id}))
    if not found:
        raise NotFound("Contract", contract_id)
    return _read_of_record(found[0], actor)


async def get(session: AsyncSession, actor: Principal, contract_id: int) -> Contract:
    return await ContractRepository(session).get_scoped_or_404(contract_id, actor, READ, "Contract")


async def attachable(session: AsyncSession, actor: Principal, contract_id: int) -> Contract:
    """The contract, if it is within the caller's contracts:write scope: documents may be attached to it in any status
    (a signed scan arrives after approval, a settlement after completion)."""
    return await ContractRepository(session).get_scoped_or_404(contract_id, actor, WRITE, "Contract")


async def list_contracts(
    session: AsyncSession,
    actor: Principal,
    params: PageParams,
    *,
    status: ContractStatus | None = None,
    customer_id: int | None = None,
) -> Page[ContractRead]:
    """A page of the contracts in the caller's scope, each with its money and latest approval: one statement, built
    once per scope shape, so the list reads without a transaction."""
    repo = ContractRepository(session)
    listed = _LISTED.get(actor, READ, lambda: _with_money_and_approval(repo.readable(actor, READ)))
    statement = repo.filtered(listed, status=status, customer_id=customer_id)
    rows = await repo.page(statement, params, rows=PageRows.RECORDS, parameters=scope_values(actor))
    return rows.to_page(lambda record: _read_of_record(record, actor))


async def _counterparty(session: AsyncSession, actor: Principal, data: ContractCreate) -> dict[str, Any]:
    if data.quote_id is not None:
        quote, customer_id = await quotes.accepted_for_contract(session, actor, data.quote_id)
        customer = await customers.visible_customer(session, actor, customer_id, WRITE)
        if customer is None:
            raise NotFound("Customer", customer_id)
        return {
            "quote_id": quote.id,
            "customer_id": customer.id,
            "customer_name": customer.name,
            "amount": data.amount or quote.total,
        }
    assert data.customer_id is not None  # the schema asks for exactly one
    customer = await customers.visible_customer(session, actor, data.customer_id, WRITE)
    if customer is None:
        raise NotFound("Customer", data.customer_id)
    if customer.owner_id != actor.user_id:
        raise Forbidden("Only the customer's owner signs contracts with it", code="contract.not_customer_owner")
    return {"customer_id": customer.id, "customer_name": customer.name, "amount": data.amount}


async def _recorded(
    session: AsyncSession, actor: Principal | None, contract: Contract, action: str, before: audit.Snapshot | None
) -> None:
    await audit.record_change(session, actor=actor, entity_type=ENTITY, entity=contract, action=action, before=before)


async def create(session: AsyncSession, actor: Principal, data: ContractCreate) -> Contract:
    assert actor.user_id is not None  # contracts:write is a user's permission
    contract = Contract(
        **await _counterparty(session, actor, data),
        number=await next_code(session, "HT"),
        owner_id=actor.user_id,
        title=data.title,
        sign_date=data.sign_date,
        start_date=data.start_date,
        end_date=data.end_date,
        status=ContractStatus.DRAFT,
    )
    session.add(contract)
    await _recorded(session, actor, contract, "create", None)
    await EVENTS.publish(session, "created", contract.id, await read(session, contract, None))
    return contract


async def update(
    session: AsyncSession, actor: Principal, contract_id: int, data: ContractUpdate, *, if_match: str | None = None
) -> Contract:
    contract = await get(session, actor, contract_id)
    check_if_match(if_match, contract)
    RULES.enforce(ContractAction.EDIT, contract, actor)
    changes = data.changes()
    if changes.get("end_date", contract.end_date) < changes.get("start_date", contract.start_date):
        raise InvalidInput("end_date", "end_date may not be before start_date", code="contract.period_reversed")
    before = audit.snapshot(contract)
    for field, value in changes.items():
        setattr(contract, field, value)
    await _recorded(session, actor, contract, "update", before)
    await EVENTS.publish(session, "updated", contract.id, await read(session, contract, None))
    return contract


async def _move(
    session: AsyncSession, actor: Principal | None, contract: Contract, action: str, changes: dict[str, Any]
) -> Contract:
    moved = await transition(session, contract, actor=actor, entity_type=ENTITY, action=action, changes=changes)
    if moved.status == ContractStatus.ACTIVE:
        await ACTIVATED.publish(session, entity_type=ENTITY, entity_id=moved.id, payload=await read(session, moved, None))
    return moved


async def submit(session: AsyncSession, actor: Principal, contract_id: int) -> Contract:
    """Every contract is approved before it is active: through the `contract` flow."""
    contract = await get(session, actor, contract_id)
    RULES.enforce(ContractAction.SUBMIT, contract, actor)
    now = clock.now()
    contract = await _move(
        session, actor, contract, ContractAction.SUBMIT, {"status": ContractStatus.PENDING_APPROVAL, "submitted_at": now}
    )
    request = await approvals.open_request(session, actor, subject_type=ENTITY, subject_id=contract.id)
    if request.status == ApprovalStatus.APPROVED:  # no step of the flow applies to this contract
        contract = await _move(session, actor, contract, "activate", {"status": ContractStatus.ACTIVE, "activated_at": now})
    return contract


async def close(
    session: AsyncSession, actor: Principal, contract_id: int, action: ContractAction, reason: str | None = None
) -> Contract:
    """Completed or terminated: final."""
    contract = await get(session, actor, contract_id)
    RULES.enforce(action, contract, actor)
    status = ContractStatus.COMPLETED if action == ContractAction.COMPLETE else ContractStatus.TERMINATED
    return await _move(
        session, actor, contract, action, {"status": status, "closed_at": clock.now(), "termination_reason": reason}
    )


class ContractApprovals:
    """The contract as an approval subject."""

    async def facts(self, session: AsyncSession, subject_id: int) -> SubjectFacts:
        contract = await ContractRepository(session).get_or_404(subject_id, "Contract")
        return SubjectFacts(
            title=f"合同 {contract.number} · {contract.customer_name} · {contract.title}",
            link=f"/api/v1/contracts/{contract.id}",
            amount=contract.amount,
        )

    async def settled(self, session: AsyncSession, subject_id: int, outcome: ApprovalStatus, actor: Principal) -> None:
        contract = await ContractRepository(session).get_or_404(subject_id, "Contract")
        if outcome == ApprovalStatus.APPROVED:
            await _move(session, actor, contract, "activate", {"status": ContractStatus.ACTIVE, "activated_at": clock.now()})
        else:  # rejected or withdrawn: back to the owner's draft
            await _move(session, actor, contract, "return_to_draft", {"status": ContractStatus.DRAFT, "submitted_at": None})


register_subject(ENTITY, ContractApprovals())


# Payment plans, receipts and invoices (§3.13)


def _installment_read(installment: Installment, today: date) -> InstallmentRead:
    return InstallmentRead(
        id=installment.id,
        contract_id=installment.contract_id,
        due_date=installment.due_date,
        amount=installment.amount,
        collected=installment.collected,
        status=installment_status(
            amount=installment.amount, collected=installment.collected, due_date=installment.due_date, today=today
        ),
    )


async def list_installments(
    session: AsyncSession, actor: Principal, settings: Settings, contract_id: int
) -> list[InstallmentRead]:
    """The payment plan in one statement, which also asks whether the caller may see the contract; an empty plan is
    also what a contract outside the caller's scope gives, so only then is that asked apart."""
    statement = _INSTALLMENTS.get(actor, READ, lambda: ContractRepository.installments_if_readable(actor, READ))
    installments = (await session.scalars(statement, scope_values(actor) | {CONTRACT_ID: contract_id})).all()
    if not installments and not await ContractRepository(session).is_scoped(contract_id, actor, READ):
        raise NotFound("Contract", contract_id)
    today = local_today(settings.time_zone)
    return [_installment_read(i, today) for i in installments]


async def _locked(session: AsyncSession, actor: Principal, contract_id: int, action: ContractAction) -> Contract:
    """The contract, its row held until commit, checked against the rules as it now is."""
    contract = await get(session, actor, contract_id)
    await PaymentRepository(session).lock_contract(contract.id)
    await session.refresh(contract)
    RULES.enforce(action, contract, actor)
    return contract


async def add_installment(
    session: AsyncSession, actor: Principal, settings: Settings, contract_id: int, data: InstallmentCreate
) -> InstallmentRead:
    """An installment of the plan; the plan's sum may not exceed the contract amount (422)."""
    contract = await _locked(session, actor, contract_id, ContractAction.PLAN)
    planned = await PaymentRepository(session).total(Installment.amount, contract.id)
    if planned + data.amount > contract.amount:
        raise InvalidInput(
            "amount",
            f"The plan would total {planned + data.amount}, over the contract amount {contract.amount}",
            code="contract.plan_over_amount",
        )
    installment = Installment(contract_id=contract.id, due_date=data.due_date, amount=data.amount, collected=ZERO)
    session.add(installment)
    await audit.record_change(session, actor=actor, entity_type="installment", entity=installment, action="create", before=None)
    return _installment_read(installment, local_today(settings.time_zone))


async def record_receipt(
    session: AsyncSession, actor: Principal, contract_id: int, installment_id: int, data: ReceiptCreate
) -> ReceiptRead:
    """A receipt against an installment: one conditional UPDATE, so receipts at once never collect past it (409)."""
    contract = await get(session, actor, contract_id)
    RULES.enforce(ContractAction.COLLECT, contract, actor)
    repo = PaymentRepository(session)
    installment = await repo.installment(contract.id, installment_id)
    if installment is None:
        raise NotFound("Installment", installment_id)
    if not await repo.collect(installment.id, data.amount):
        await session.refresh(installment)
        raise Conflict(
            f"Only {installment.amount - installment.collected} of this installment is outstanding",
            code="installment.over_collected",
            outstanding=str(installment.amount - installment.collected),
        )
    assert actor.user_id is not None  # contracts:write is a user's permission
    receipt = Receipt(contract_id=contract.id, installment_id=installment.id, recorded_by_id=actor.user_id, **data.model_dump())
    session.add(receipt)
    await audit.record_change(session, actor=actor, entity_type="receipt", entity=receipt, action="create", before=None)
    read = ReceiptRead.model_validate(receipt)
    await PAYMENT_RECEIVED.publish(session, entity_type="receipt", entity_id=receipt.id, payload=read)
    return read


async def add_invoice(session: AsyncSession, actor: Principal, contract_id: int, data: InvoiceCreate) -> InvoiceRead:
    """An invoice; the contract's invoices may not total more than its amount (409)."""
    contract = await _locked(session, actor, contract_id, ContractAction.INVOICE)
    invoiced = await PaymentRepository(session).total(Invoice.amount, contract.id)
    if invoiced + data.amount > contract.amount:
        raise Conflict(
            f"Invoices would total {invoiced + data.amount}, over the contract amount {contract.amount}",
            code="contract.over_invoiced",
        )
    assert actor.user_id is not None  # contracts:write is a user's permission
    invoice = Invoice(contract_id=contract.id, created_by_id=actor.user_id, **data.model_dump())
    session.add(invoice)
    await audit.record_change(session, actor=actor, entity_type="invoice", entity=invoice, action="create", before=None)
    return InvoiceRead.model_validate(invoice)


async def list_invoices(session: AsyncSession, actor: Principal, contract_id: int) -> list[InvoiceRead]:
    contract = await get(session, actor, contract_id)
    return [InvoiceRead.model_validate(i) for i in await PaymentRepository(session).invoices_of(contract.id)]
