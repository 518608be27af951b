from datetime import date
from decimal import Decimal
from typing import TypeVar

from sqlalchemy import Select, func, or_, select, type_coerce
from sqlalchemy.orm import selectinload

from crm_api.core.repository import Repository
from crm_api.core.types import Money
from crm_api.models.customer import Contact, Customer, CustomerTag, Interaction
from crm_api.models.sales import COMPLETED_ORDER_STATUSES, Order

R = TypeVar("R", Contact, Interaction)


class CustomerRepository(Repository[Customer]):
    """Customers are scoped by their account manager (owner) and that owner's team."""

    model = Customer
    owner_column = Customer.owner_id

    @staticmethod
    def with_tags(statement: Select[tuple[Customer]]) -> Select[tuple[Customer]]:
        return statement.options(selectinload(Customer.tags))

    @staticmethod
    def filtered(
        statement: Select[tuple[Customer]],
        *,
        q: str | None = None,
        region: str | None = None,
        level: str | None = None,
        owner_id: int | None = None,
        status: str | None = None,
        tag: str | None = None,
    ) -> Select[tuple[Customer]]:
        if q:
            pattern = f"%{q}%"
            statement = statement.where(
                or_(
                    Customer.name.ilike(pattern),
                    Customer.code.ilike(pattern),
                    Customer.phone.like(pattern),
                    Customer.phone_e164.like(pattern),
                )
            )
        for column, value in ((Customer.region, region), (Customer.level, level), (Customer.owner_id, owner_id),
                              (Customer.status, status)):
            if value is not None:
                statement = statement.where(column == value)
        if tag:
            statement = statement.where(Customer.tags.any(CustomerTag.tag == tag))
        return statement

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


class CustomerRecordRepository(Repository[R]):
    """Records of one customer; the data scope is the customer's, which the service checks first."""

    def of_customer(self, customer_id: int) -> Select[tuple[R]]:
        return self.select().where(self.model.customer_id == customer_id)

    async def get_of_customer(self, customer_id: int, record_id: int) -> R | None:
        return await self.session.scalar(self.of_customer(customer_id).where(self.model.id == record_id))


class ContactRepository(CustomerRecordRepository[Contact]):
    model = Contact


class InteractionRepository(CustomerRecordRepository[Interaction]):
    model = Interaction
