from collections.abc import Collection, Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar, cast

from sqlalchemy import Column, CursorResult, Select, UniqueConstraint, exists, func, insert, select, type_coerce, update
from sqlalchemy.orm import joinedload, selectinload

from crm_api.core.repository import Repository
from crm_api.core.types import Money
from crm_api.customers import policy as customer_policy
from crm_api.customers.schemas import CustomerSearch
from crm_api.models import Base
from crm_api.models.customer import Contact, Customer, Interaction, OwnershipChange
from crm_api.models.identity import User
from crm_api.models.sales import COMPLETED_ORDER_STATUSES, Order

R = TypeVar("R", Contact, Interaction)


class CustomerRepository(Repository[Customer]):
    """Customers are scoped by their account manager (owner) and that owner's team."""

    model = Customer
    visible = staticmethod(customer_policy.visible)

    @staticmethod
    def with_tags(statement: Select[Customer]) -> Select[Customer]:
        """Tags of many customers: one more query for all of them."""
        return statement.options(selectinload(Customer.tags))

    async def one_with_tags(self, statement: Select[Customer]) -> Customer | None:
        """The one customer the statement selects, joined to its tags: a single round trip."""
        result = await self.session.scalars(statement.options(joinedload(Customer.tags)))
        return result.unique().one_or_none()

    @staticmethod
    def filtered(statement: Select[Customer], filters: CustomerSearch) -> Select[Customer]:
        return statement.where(*customer_policy.matching(filters))

    async def orders_summary(self, customer_id: int) -> tuple[int, Decimal, date | None]:
        """Count, total and last date of the customer's completed orders, in one statement."""
        row = (
            await self.session.execute(
                select(
                    func.count(Order.id),
                    type_coerce(func.coalesce(func.sum(Order.total), 0), Money()),
                    func.max(Order.order_date),
                ).where(Order.customer_id == customer_id, Order.status.in_(COMPLETED_ORDER_STATUSES))
            )
        ).one()
        return row[0], row[1], row[2]

    async def names(self, ids: Iterable[int]) -> dict[int, str]:
        rows = await self.session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(list(ids))))
        return dict(rows.all())

    async def owned_active(self, user_id: int) -> int:
        """How many live, active customers the user owns (the claim limit counts these)."""
        statement = select(func.count()).where(
            Customer.owner_id == user_id, Customer.status == customer_policy.CustomerStatus.ACTIVE, Customer.deleted_at.is_(None)
        )
        return int(await self.session.scalar(statement) or 0)

    async def hold_claimant(self, user_id: int) -> None:
        """Lock the claimant's user row until commit, so their claims count and move one at a time (the limit holds
        under concurrency). FOR NO KEY UPDATE: rows referring to the user may still be written meanwhile."""
        await self.session.execute(select(User.id).where(User.id == user_id).with_for_update(key_share=True))

    async def claim(self, customer_id: int, user_id: int) -> Customer | None:
        """`UPDATE customers SET owner_id = :me, version = version + 1 WHERE id = :id AND owner_id IS NULL AND
        deleted_at IS NULL AND status = 'active' RETURNING …`: of concurrent claims exactly one matches."""
        statement = (
            update(Customer)
            .where(
                Customer.id == customer_id,
                Customer.owner_id.is_(None),
                Customer.deleted_at.is_(None),
                Customer.status == customer_policy.CustomerStatus.ACTIVE,
            )
            .values(owner_id=user_id, version=Customer.version + 1)
            .returning(Customer)
            .execution_options(populate_existing=True, synchronize_session=False)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def owner_name(self, customer_id: int) -> tuple[bool, str | None]:
        """Whether the customer is live, and its owner's name (None: in the pool), as committed now."""
        row = (
            await self.session.execute(
                select(Customer.deleted_at, User.full_name)
                .outerjoin(User, User.id == Customer.owner_id)
                .where(Customer.id == customer_id)
            )
        ).one_or_none()
        if row is None or row[0] is not None:
            return False, None
        return True, row[1]

    async def last_release_by(self, customer_id: int, user_id: int) -> datetime | None:
        """When `user_id` last stopped owning the customer by a release."""
        statement = select(func.max(OwnershipChange.at)).where(
            OwnershipChange.customer_id == customer_id,
            OwnershipChange.from_user_id == user_id,
            OwnershipChange.action == customer_policy.OwnershipAction.RELEASE,
        )
        return await self.session.scalar(statement)

    def ownership_history(self, customer_id: int) -> Select[OwnershipChange]:
        return select(OwnershipChange).where(OwnershipChange.customer_id == customer_id)

    async def user_names(self, ids: Iterable[int | None]) -> dict[int, str]:
        wanted = {i for i in ids if i is not None}
        if not wanted:
            return {}
        rows = await self.session.execute(select(User.id, User.full_name).where(User.id.in_(wanted)))
        return dict(rows.all())

    async def ids_by_code(self, codes: Collection[str]) -> dict[str, int]:
        if not codes:
            return {}
        rows = await self.session.execute(
            select(Customer.code, Customer.id).where(Customer.code.in_(list(codes)), Customer.deleted_at.is_(None))
        )
        return {row[0]: row[1] for row in rows}

    async def insert_ownership_changes(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(insert(OwnershipChange), rows)

    async def reassign(self, column: Column[Any], *, loser_id: int, survivor_id: int) -> int:
        """Point the loser's rows of `column`'s table at the survivor; rows that would collide with one of the
        survivor's under a unique key (a tag both have) stay with the loser. Returns how many moved."""
        table = column.table
        statement = update(table).where(column == loser_id).values({column.name: survivor_id})
        for key in _unique_keys_with(column):
            survivors = table.alias()
            others = [survivors.c[c.name] == c for c in key if c is not column]
            statement = statement.where(~exists().where(survivors.c[column.name] == survivor_id, *others))
        result = await self.session.execute(statement)
        return cast("CursorResult[Any]", result).rowcount or 0


def _unique_keys_with(column: Column[Any]) -> list[list[Column[Any]]]:
    """The primary key, unique constraints and unique indexes of the column's table that include it."""
    table = column.table
    keys = [list(table.primary_key.columns)]
    keys += [list(c.columns) for c in table.constraints if isinstance(c, UniqueConstraint)]
    keys += [list(index.columns) for index in table.indexes if index.unique]
    return [key for key in keys if column in key]


def customer_references() -> list[Column[Any]]:
    """Every column of another table that refers to customers.id, from the model metadata: new domains are covered
    by merge without code changes. Tables the database derives from others (`info["derived_from"]`) follow those; histories of the record itself
    (`info["stays_on_merge"]`) stay with the loser."""
    customer_id = Customer.__table__.c.id
    return [
        fk.parent
        for table in Base.metadata.sorted_tables
        if table is not Customer.__table__ and not {"derived_from", "stays_on_merge"} & table.info.keys()
        for fk in table.foreign_keys
        if fk.column is customer_id
    ]


class CustomerRecordRepository(Repository[R]):
    """Records of one customer; the data scope is the customer's, which the service checks first."""

    def of_customer(self, customer_id: int) -> Select[R]:
        return self.select().where(self.model.customer_id == customer_id)

    async def get_of_customer(self, customer_id: int, record_id: int) -> R | None:
        return await self.session.scalar(self.of_customer(customer_id).where(self.model.id == record_id))


class ContactRepository(CustomerRecordRepository[Contact]):
    model = Contact


class InteractionRepository(CustomerRecordRepository[Interaction]):
    model = Interaction
