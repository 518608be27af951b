from datetime import date
from decimal import Decimal
from typing import TypeVar

from sqlalchemy import Select, func, or_, select, type_coerce
from sqlalchemy.orm import selectinload

from crm_api.core.repository import Repository
from crm_api.core.types import Money
from crm_api.customers.schemas import CustomerFilters
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
    def filtered(statement: Select[tuple[Customer]], filters: CustomerFilters) -> Select[tuple[Customer]]:
        if filters.q:
            q = filters.q
            statement = statement.where(
                or_(
                    Customer.name.icontains(q, autoescape=True),
                    Customer.code.icontains(q, autoescape=True),
                    Customer.phone.contains(q, autoescape=True),
                    Customer.phone_e164.contains(q, autoescape=True),
                )
            )
        exact = {Customer.region: filters.region, Customer.level: filters.level, Customer.owner_id: filters.owner_id,
                 Customer.status: filters.status}
        for column, value in exact.items():
            if value is not None:
                statement = statement.where(column == value)
        if filters.tag:
            statement = statement.where(Customer.tags.any(CustomerTag.tag == filters.tag))
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
