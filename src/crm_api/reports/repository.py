"""The reports' SQL: every figure is aggregated in the database, over the customers the caller may see."""

from datetime import date
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Row, and_, case, cast, extract, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from crm_api.core.permissions import Principal, scope_clause
from crm_api.models.customer import Contact, Customer
from crm_api.models.identity import User
from crm_api.models.platform import DictionaryItem
from crm_api.models.sales import COMPLETED_ORDER_STATUSES, Order

PERMISSION = "reports:read"

# Dropped, in this order, before names are compared: spaces first so "Co., Ltd." and "Co.,Ltd." agree,
# then company forms longest first (有限公司 before 公司). Few enough to stay within SQLite's parser depth.
NAME_NOISE = (
    " ", "　", "股份有限公司", "有限责任公司", "有限公司", "股份", "集团", "公司",
    "co.,ltd", "ltd", "inc", "corp", ".", ",", "，", "(", ")", "（", "）",
)


def revenue_cents(total: InstrumentedAttribute[Any]) -> ColumnElement[int]:
    """Exact sum of money in integer cents: SQLite keeps NUMERIC as binary floats, so 0.10 + 0.20 must not add as floats."""
    return func.coalesce(func.sum(cast(func.round(total * 100), BigInteger)), 0)


def normalized_name(name: InstrumentedAttribute[str]) -> ColumnElement[str]:
    expression: ColumnElement[str] = func.lower(func.trim(name))
    for noise in NAME_NOISE:
        expression = func.replace(expression, noise, "")
    return expression


def contains(column: InstrumentedAttribute[str], text: str) -> ColumnElement[bool]:
    """Case-insensitive substring match; % and _ in the text are plain characters."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")


def blank(column: InstrumentedAttribute[Any]) -> ColumnElement[bool]:
    if column.type.python_type is str:
        return or_(column.is_(None), func.trim(column) == "")
    return column.is_(None)


class ReportRepository:
    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = principal

    def visible_customers(self) -> ColumnElement[bool]:
        """Live customers inside the caller's `reports:read` scope (a supervisor: their team's)."""
        return and_(Customer.deleted_at.is_(None), scope_clause(self.principal, PERMISSION, Customer.owner_id))

    def _contributing(self, customer_name: str | None, period: tuple[date, date] | None) -> ColumnElement[bool]:
        """Shipped or paid orders (of the period) of visible customers (whose name contains the text)."""
        matches = and_(
            Order.customer_id == Customer.id, Order.status.in_(COMPLETED_ORDER_STATUSES), self.visible_customers()
        )
        if period is not None:
            matches = and_(matches, Order.order_date >= period[0], Order.order_date < period[1])
        if customer_name:
            matches = and_(matches, contains(Customer.name, customer_name))
        return matches

    async def contribution(
        self, *, customer_name: str | None, period: tuple[date, date] | None, top: int | None
    ) -> list[Row[Any]]:
        cents = revenue_cents(Order.total)
        statement = (
            select(
                Customer.id, Customer.code, Customer.name, User.full_name.label("owner_name"),
                func.count(Order.id).label("order_count"), cents.label("cents"),
            )
            .select_from(Customer)
            .join(Order, self._contributing(customer_name, period))
            .join(User, User.id == Customer.owner_id)
            .group_by(Customer.id, Customer.code, Customer.name, User.full_name)
            .order_by(cents.desc(), Customer.name, Customer.id)
            .limit(top)
        )
        return list((await self.session.execute(statement)).all())

    async def contribution_totals(self, *, customer_name: str | None, period: tuple[date, date] | None) -> Row[Any]:
        """Contributing customers, their orders and revenue cents, over every customer (not only the top ones)."""
        statement = (
            select(
                func.count(func.distinct(Customer.id)).label("customers"), func.count(Order.id).label("order_count"),
                revenue_cents(Order.total).label("cents"),
            )
            .select_from(Customer)
            .join(Order, self._contributing(customer_name, period))
        )
        return (await self.session.execute(statement)).one()

    async def active_customers_by(self, column: InstrumentedAttribute[Any]) -> dict[Any, int]:
        statement = (
            select(column, func.count())
            .where(self.visible_customers(), Customer.status == "active")
            .group_by(column)
        )
        return {value: count for value, count in (await self.session.execute(statement)).all()}

    async def dictionary_items(self, category: str) -> list[DictionaryItem]:
        statement = (
            select(DictionaryItem)
            .where(DictionaryItem.category == category)
            .order_by(DictionaryItem.sort_order, DictionaryItem.id)
        )
        return list((await self.session.scalars(statement)).all())

    async def monthly_revenue(self, start: date, end: date) -> dict[tuple[int, int], int]:
        """Cents of completed orders per (year, month) with start <= order_date < end."""
        year, month = extract("year", Order.order_date), extract("month", Order.order_date)
        statement = (
            select(year, month, revenue_cents(Order.total))
            .join(Customer, Customer.id == Order.customer_id)
            .where(
                self.visible_customers(), Order.status.in_(COMPLETED_ORDER_STATUSES),
                Order.order_date >= start, Order.order_date < end,
            )
            .group_by(year, month)
        )
        return {(int(y), int(m)): int(cents) for y, m, cents in (await self.session.execute(statement)).all()}

    async def missing_counts(self, fields: list[InstrumentedAttribute[Any]]) -> tuple[int, dict[str, int]]:
        """Total rows and, per field, how many are empty; customers, or contacts of visible customers."""
        entity = fields[0].class_
        statement = select(
            func.count(), *(func.coalesce(func.sum(case((blank(f), 1), else_=0)), 0) for f in fields)
        ).where(self.visible_customers())
        if entity is Contact:
            statement = statement.select_from(Contact).join(Customer, Customer.id == Contact.customer_id)
        total, *missing = (await self.session.execute(statement)).one()
        return int(total), {f.key: int(m) for f, m in zip(fields, missing, strict=True)}

    async def duplicate_candidates(self) -> tuple[int, int, int, int]:
        """Visible customers; how many share a normalized name or an E.164 phone with another; by name; by phone."""
        # Window counts: one pass over the customers, and the long name expression written (parsed) once.
        counted = (
            select(
                func.count().over(partition_by=normalized_name(Customer.name)).label("same_name"),
                case(
                    (Customer.phone_e164.is_(None), 1), else_=func.count().over(partition_by=Customer.phone_e164)
                ).label("same_phone"),
            )
            .where(self.visible_customers())
            .subquery()
        )
        by_name, by_phone = counted.c.same_name > 1, counted.c.same_phone > 1
        statement = select(
            func.count(),
            func.coalesce(func.sum(case((or_(by_name, by_phone), 1), else_=0)), 0),
            func.coalesce(func.sum(case((by_name, 1), else_=0)), 0),
            func.coalesce(func.sum(case((by_phone, 1), else_=0)), 0),
        ).select_from(counted)
        total, either, same_name, same_phone = (await self.session.execute(statement)).one()
        return int(total), int(either), int(same_name), int(same_phone)
