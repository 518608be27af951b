from collections.abc import Collection
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Select, String, bindparam, func, literal, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from crm_api.contracts import policy
from crm_api.contracts.policy import ContractStatus
from crm_api.core.permissions import Principal
from crm_api.core.repository import Repository
from crm_api.core.types import money_text
from crm_api.models.contract import Contract, Installment, Invoice
from crm_api.notifications.policy import link_columns

CONTRACT_ID = "contract_id"


class ContractRepository(Repository[Contract]):
    model = Contract
    visible = staticmethod(policy.visible)

    def filtered(
        self, statement: Select[Contract], *, status: ContractStatus | None, customer_id: int | None
    ) -> Select[Contract]:
        if status:
            statement = statement.where(Contract.status == status)
        if customer_id is not None:
            statement = statement.where(Contract.customer_id == customer_id)
        return statement

    @staticmethod
    def readable(principal: Principal, permission: str) -> Select[Contract]:
        """The contracts the principal may see under `permission`, run with `scope_values(principal)`: the same
        statement for every caller of a scope shape."""
        return select(Contract).where(policy.visible(principal, permission, named=True))

    @staticmethod
    def readable_by_id(principal: Principal, permission: str) -> Select[Contract]:
        """The contract `CONTRACT_ID` names if the principal may see it under `permission`, as `readable`."""
        return ContractRepository.readable(principal, permission).where(Contract.id == bindparam(CONTRACT_ID))

    @staticmethod
    def installments_if_readable(principal: Principal, permission: str) -> Select[Installment]:
        """The payment plan of the contract `CONTRACT_ID` names, by due date, if the principal may see the contract
        under `permission` (none otherwise), run with `scope_values(principal)`: one statement per scope shape."""
        readable = ContractRepository.readable_by_id(principal, permission).with_only_columns(Contract.id).exists()
        return (
            select(Installment)
            .where(Installment.contract_id == bindparam(CONTRACT_ID), readable)
            .order_by(Installment.due_date, Installment.id)
        )

    @staticmethod
    def with_money(statement: Select[Any]) -> Select[Any]:
        """The statement with each contract's `collected` and `invoiced` sums as columns of its rows."""
        return statement.add_columns(
            _sum_per_contract(Installment.collected).label("collected"), _sum_per_contract(Invoice.amount).label("invoiced")
        )


class PaymentRepository:
    """A contract's installments, receipts and invoices, and the sums its representation shows."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_contract(self, contract_id: int) -> None:
        """Hold the contract's row, so plans and invoices added at once are summed one after the other."""
        await self.session.execute(select(Contract.id).where(Contract.id == contract_id).with_for_update())

    async def installment(self, contract_id: int, installment_id: int) -> Installment | None:
        statement = select(Installment).where(Installment.id == installment_id, Installment.contract_id == contract_id)
        return await self.session.scalar(statement)

    async def invoices_of(self, contract_id: int) -> list[Invoice]:
        statement = select(Invoice).where(Invoice.contract_id == contract_id).order_by(Invoice.issued_on, Invoice.id)
        return list((await self.session.scalars(statement)).all())

    async def total(self, column: InstrumentedAttribute[Decimal], contract_id: int) -> Decimal:
        owner = column.class_.contract_id
        total = await self.session.scalar(select(func.sum(column)).where(owner == contract_id))
        return Decimal(total) if total is not None else Decimal("0.00")

    async def collected_and_invoiced(self, contract_ids: Collection[int]) -> dict[int, tuple[Decimal, Decimal]]:
        """Each contract's collected and invoiced sums, in one statement (each read of a contract shows both)."""
        rows = await self.session.execute(_COLLECTED_AND_INVOICED, {"contract_ids": list(contract_ids)})
        return {contract_id: (Decimal(collected), Decimal(invoiced)) for contract_id, collected, invoiced in rows}

    async def collect(self, installment_id: int, amount: Decimal) -> bool:
        """One conditional UPDATE: the receipt counts only if it keeps the installment within its amount. Rounded to
        cents, since SQLite adds NUMERIC as binary floats (0.10 + 0.20 is not 0.30 there)."""
        collected = func.round(Installment.collected + amount, 2)
        statement = (
            update(Installment)
            .where(Installment.id == installment_id, collected <= Installment.amount)
            .values(collected=collected)
            .returning(Installment.id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none() is not None


def _sum_per_contract(column: InstrumentedAttribute[Decimal]) -> ColumnElement[Decimal]:
    summed = select(func.sum(column)).where(column.class_.contract_id == Contract.id).scalar_subquery()
    return func.coalesce(summed, 0)


_COLLECTED_AND_INVOICED = select(Contract.id, _sum_per_contract(Installment.collected), _sum_per_contract(Invoice.amount)).where(
    Contract.id.in_(bindparam("contract_ids", expanding=True))
)


class ReminderRepository:
    """The daily installment reminders, set-based: mark what is announced, then select what was marked."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def mark(self, marker: InstrumentedAttribute[datetime | None], due: ColumnElement[bool], *, now: datetime) -> int:
        """One UPDATE: every installment of an active contract matching `due` and not yet announced so gets `now`."""
        active = select(Contract.id).where(Contract.status == ContractStatus.ACTIVE)
        statement = (
            update(Installment)
            .where(marker.is_(None), due, Installment.contract_id.in_(active))
            .values({marker: now})
            .execution_options(synchronize_session=False)
        )
        return int(cast("CursorResult[Any]", await self.session.execute(statement)).rowcount or 0)

    @staticmethod
    def marked(marker: InstrumentedAttribute[datetime | None], now: datetime) -> list[ColumnElement[bool]]:
        """The installments this run marked, joined to their contracts."""
        return [marker == now, Contract.id == Installment.contract_id]

    def announcements(self, marker: InstrumentedAttribute[datetime | None], now: datetime, title: str) -> Select[Any]:
        """The installments this run marked, as notifications of their contracts' owners linked to the contract."""
        outstanding = money_text(Installment.amount - Installment.collected)
        body = (
            Contract.number
            + literal(" · ")
            + Contract.customer_name
            + literal("：回款到期日 ")
            + sql_cast(Installment.due_date, String)
            + literal("，未收 ")
            + outstanding
        )
        return select(
            Contract.owner_id.label("user_id"),
            literal(title).label("title"),
            body.label("body"),
            *link_columns("contract", Contract.id),
        ).where(*self.marked(marker, now))
