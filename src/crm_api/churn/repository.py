from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, and_, case, func, literal, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult

from crm_api.churn import policy
from crm_api.churn.policy import LIVE_STATUSES, ChurnWarningStatus
from crm_api.core.repository import Repository
from crm_api.customers.policy import CustomerStatus
from crm_api.models.churn import ChurnMeasure, ChurnWarning
from crm_api.models.customer import Customer
from crm_api.models.identity import User
from crm_api.models.sales import COMPLETED_ORDER_STATUSES, Order
from crm_api.notifications.policy import link_columns


def _last_completed_order_date() -> Any:
    """Correlated: the customer's latest shipped or paid order date (NULL when none)."""
    return (
        select(func.max(Order.order_date))
        .where(Order.customer_id == Customer.id, Order.status.in_(COMPLETED_ORDER_STATUSES))
        .scalar_subquery()
    )


class ChurnWarningRepository(Repository[ChurnWarning]):
    """Warnings are scoped by their customer's owner; warnings of deleted customers are hidden."""

    model = ChurnWarning
    visible = staticmethod(policy.visible)

    def select(self, *, include_deleted: bool = False) -> Select[ChurnWarning]:
        statement = select(ChurnWarning).join(Customer, Customer.id == ChurnWarning.customer_id)
        return statement if include_deleted else statement.where(Customer.deleted_at.is_(None))

    def filtered(
        self,
        statement: Select[ChurnWarning],
        *,
        status: ChurnWarningStatus | None,
        customer_name: str | None,
        owner_name: str | None,
    ) -> Select[ChurnWarning]:
        if status:
            statement = statement.where(ChurnWarning.status == status)
        if customer_name:
            statement = statement.where(func.lower(Customer.name).contains(customer_name.lower(), autoescape=True))
        if owner_name:
            pattern = owner_name.lower()
            owners = select(User.id).where(
                or_(
                    func.lower(User.full_name).contains(pattern, autoescape=True),
                    User.username.contains(pattern, autoescape=True),
                )
            )
            statement = statement.where(Customer.owner_id.in_(owners))
        return statement

    async def context(self, warning_ids: list[int]) -> dict[int, tuple[Customer, User, date | None]]:
        """Customer, owner and live last-order date of each warning, in one query."""
        rows = await self.session.execute(
            select(ChurnWarning.id, Customer, User, _last_completed_order_date())
            .join(Customer, Customer.id == ChurnWarning.customer_id)
            .join(User, User.id == Customer.owner_id)
            .where(ChurnWarning.id.in_(warning_ids))
        )
        return {warning_id: (customer, owner, last) for warning_id, customer, owner, last in rows}

    async def measures(self, warning_id: int) -> list[tuple[ChurnMeasure, str]]:
        rows = await self.session.execute(
            select(ChurnMeasure, User.full_name)
            .join(User, User.id == ChurnMeasure.author_id)
            .where(ChurnMeasure.warning_id == warning_id)
            .order_by(ChurnMeasure.id)
        )
        return [(measure, name) for measure, name in rows]

    async def completed_orders_between(self, customer_id: int, *, since: date, middle: date) -> tuple[int, int]:
        """Shipped or paid orders from `since` up to `middle` (exclusive), and from `middle` on."""
        in_recent = case((Order.order_date >= middle, 1), else_=0)
        in_earlier = case((and_(Order.order_date >= since, Order.order_date < middle), 1), else_=0)
        row = (
            await self.session.execute(
                select(func.coalesce(func.sum(in_earlier), 0), func.coalesce(func.sum(in_recent), 0)).where(
                    Order.customer_id == customer_id, Order.status.in_(COMPLETED_ORDER_STATUSES)
                )
            )
        ).one()
        return int(row[0]), int(row[1])

    async def open_warnings_for_inactive(self, *, cutoff_date: date, created_before: datetime, now: datetime) -> int:
        """One INSERT … SELECT: a warning for every active customer without orders since the cutoff."""
        last_orders = (
            select(Order.customer_id, func.max(Order.order_date).label("order_date"))
            .where(Order.status.in_(COMPLETED_ORDER_STATUSES))
            .group_by(Order.customer_id)
            .subquery("last_orders")
        )
        inactive = (
            select(
                Customer.id,
                literal(ChurnWarningStatus.OPEN.value),
                literal(now, ChurnWarning.opened_at.type),
                last_orders.c.order_date,
                literal(now, ChurnWarning.created_at.type),
                literal(now, ChurnWarning.updated_at.type),
            )
            .select_from(Customer)
            .outerjoin(last_orders, last_orders.c.customer_id == Customer.id)
            .where(
                Customer.status == CustomerStatus.ACTIVE,
                Customer.deleted_at.is_(None),
                or_(
                    last_orders.c.order_date < cutoff_date,
                    and_(last_orders.c.order_date.is_(None), Customer.created_at < created_before),
                ),
            )
        )
        columns = ["customer_id", "status", "opened_at", "last_order_date_at_open", "created_at", "updated_at"]
        # A customer with a live warning is skipped by the unique index, not by NOT EXISTS: reading the
        # table this statement fills made PostgreSQL rescan it per row when it planned it as nearly empty.
        dialect_insert = postgresql_insert if self.session.get_bind().dialect.name == "postgresql" else sqlite_insert
        statement = (
            dialect_insert(ChurnWarning)
            .from_select(columns, inactive)
            .on_conflict_do_nothing(index_elements=[ChurnWarning.customer_id], index_where=ChurnWarning.status.in_(LIVE_STATUSES))
        )
        result = await self.session.execute(statement)
        assert isinstance(result, CursorResult)
        return result.rowcount

    def opened_since(self, after_id: int) -> Select[*tuple[Any, ...]]:
        """The warnings opened since `after_id` was the last, as notifications of their customers' owners."""
        return (
            select(
                Customer.owner_id.label("user_id"),
                literal("Churn warning opened").label("title"),
                (literal("No shipped or paid order for a long time: ") + Customer.name).label("body"),
                *link_columns("churn_warning", ChurnWarning.id),
            )
            .join(Customer, Customer.id == ChurnWarning.customer_id)
            .where(ChurnWarning.id > after_id, Customer.owner_id.is_not(None))
        )
