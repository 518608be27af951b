"""The statements of a sync: each kind's records in the caller's scope, and the change log rows that reach it."""

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Row, Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.changes import Position
from crm_api.core.db import read_rows, record_columns, records
from crm_api.core.permissions import Principal
from crm_api.core.tables import ChangeLog
from crm_api.core.types import listed
from crm_api.models.collaboration import Task
from crm_api.models.customer import Contact, Customer, CustomerTag, Interaction
from crm_api.models.pipeline import Opportunity
from crm_api.sync import policy
from crm_api.sync.policy import SyncType

MODELS: dict[SyncType, Any] = {
    SyncType.CUSTOMERS: Customer,
    SyncType.CONTACTS: Contact,
    SyncType.INTERACTIONS: Interaction,
    SyncType.TASKS: Task,
    SyncType.OPPORTUNITIES: Opportunity,
}


# The column of a contact's or interaction's customer's name (core.references).
CUSTOMER_NAME = "customer_name"

# A customer's tags by name, as a column of its row: a page of customers is one statement.
_TAG_NAMES = listed(select(CustomerTag.tag).where(CustomerTag.customer_id == Customer.id)).label("tags")


def _in_scope(kind: SyncType, principal: Principal) -> Select[Any]:
    """The records of `kind` the caller's lists show (policy.visible). Plain rows, not entities: a snapshot sends
    thousands, and the identity map would cost more than the query."""
    model = MODELS[kind]
    columns = record_columns(model)
    if kind in (SyncType.CONTACTS, SyncType.INTERACTIONS):
        # The customer's name from the customer joined for its scope, not a lookup per record.
        columns = tuple(Customer.name.label(CUSTOMER_NAME) if column.key == CUSTOMER_NAME else column for column in columns)
        statement = select(*columns).join(Customer, Customer.id == model.customer_id)
    else:
        statement = select(*columns)
    if kind is SyncType.CUSTOMERS:
        statement = statement.add_columns(_TAG_NAMES)
    return statement.where(policy.visible(kind, principal))


class SyncRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def records_after(
        self, kind: SyncType, principal: Principal, after: tuple[int, ...], limit: int
    ) -> list[dict[str, Any]]:
        """A snapshot page: the kind's records in scope after the key `after` (empty: from the first) in the kind's
        snapshot order."""
        model = MODELS[kind]
        order = [getattr(model, name) for name in policy.SNAPSHOT_ORDER[kind]]
        statement = _in_scope(kind, principal).order_by(*order).limit(limit)
        if after and order[0] is model.id:
            statement = statement.where(model.id > after[0])
        elif after:
            # In the customers' order: the scan of the caller's customers starts at the key's customer, and within it
            # goes on past the key's record. Not `(customer_id, id) > key`, nor `customer_id > …`: PostgreSQL would
            # count that bound again on top of the scan's own, guess too few records left to fill the page, and sort
            # every one of them rather than read the customers in order until the page is full.
            customer_id, record_id = after
            statement = statement.where(Customer.id >= customer_id, or_(model.id > record_id, Customer.id != customer_id))
        return records(await read_rows(self.session, statement))

    async def records(self, kind: SyncType, principal: Principal, ids: Iterable[int]) -> list[dict[str, Any]]:
        """Those of the records that are in scope now."""
        model = MODELS[kind]
        statement = _in_scope(kind, principal).where(model.id.in_(list(ids))).order_by(model.id)
        return records(await read_rows(self.session, statement))

    async def changed(
        self, kinds: Sequence[SyncType], principal: Principal, after: Position, below: int, limit: int
    ) -> Sequence[Row[str, int, int, int]]:
        """Log rows after `after` whose transaction id is below `below`, of the kinds, that reach the caller's scope
        (the record was or is in it), in log order."""
        statement = (
            select(ChangeLog.entity_type, ChangeLog.entity_id, ChangeLog.xid, ChangeLog.seq)
            .where(after.after(), ChangeLog.xid < below, policy.reaches(kinds, principal))
            .order_by(ChangeLog.xid, ChangeLog.seq)
            .limit(limit)
        )
        return (await self.session.execute(statement)).all()

    async def held_back(self, kinds: Sequence[SyncType], principal: Principal, after: Position, below: int) -> bool:
        """Whether a committed change that reaches the caller lies beyond `below`, waiting for an earlier
        transaction to finish."""
        statement = select(ChangeLog.seq).where(after.after(), ChangeLog.xid >= below, policy.reaches(kinds, principal)).limit(1)
        return await self.session.scalar(statement) is not None
