"""Queries of the sales read model: set-based lookups and bulk writes for the ingest, filtered lists for reading."""

from collections.abc import Collection, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import BindParameter, Row, Select, bindparam, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, selectinload

from crm_api.core.repository import Repository, among
from crm_api.models.sales import COMPLETED_ORDER_STATUSES, InventoryItem, Order, OrderLine, Product
from crm_api.sales.schemas import OrderSummary

# The records an integration syncs by their external_id.
Synced = Product | InventoryItem | Order


class SyncRepository:
    """One statement per kind of lookup or write, whatever the size of the batch."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def current_values(
        self, model: type[Synced], fields: Sequence[str], external_ids: Collection[str]
    ) -> dict[str, dict[str, Any]]:
        """external_id -> {"id", *fields} of the rows already stored."""
        columns = [getattr(model, name) for name in ("id", "external_id", *fields)]
        rows = await self.session.execute(select(*columns).where(model.external_id.in_(external_ids)))
        return {row.external_id: dict(row._mapping) for row in rows}

    async def lookup(
        self, key: InstrumentedAttribute[Any], values: Collection[str], *extra: InstrumentedAttribute[Any]
    ) -> dict[str, Any]:
        """key value -> row (id and `extra` columns) for the values that exist."""
        if not values:
            return {}
        table = key.class_
        rows = await self.session.execute(select(key, table.id, *extra).where(key.in_(values)))
        return {row[0]: row for row in rows}

    async def insert(self, model: type[Synced], rows: list[dict[str, Any]]) -> dict[str, int]:
        """Inserts the rows; external_id -> new id."""
        if not rows:
            return {}
        external_id = model.external_id
        result = await self.session.execute(insert(model).returning(external_id, model.id), rows)
        return {str(row[0]): row[1] for row in result}  # synced rows always have an external_id

    async def update_by_id(self, model: type[Synced], rows: list[dict[str, Any]]) -> None:
        """One executemany UPDATE on the table (not the ORM's bulk update, which would want each row's
        `version`): a versioned table's `version` bumps by its column default."""
        if not rows:
            return
        table = model.__table__
        statement = update(table).where(table.c.id == bindparam("row_id"))
        await self.session.execute(
            statement, [{"row_id": row["id"]} | {k: v for k, v in row.items() if k != "id"} for row in rows]
        )

    async def lines_of(self, order_ids: Collection[int]) -> list[Row[int, int | None, str, Decimal, str | None, Decimal]]:
        """The stored lines as plain rows: they are about to be replaced, so none enters the identity map."""
        if not order_ids:
            return []
        columns = (
            OrderLine.order_id,
            OrderLine.product_id,
            OrderLine.product_name,
            OrderLine.quantity,
            OrderLine.unit,
            OrderLine.unit_price,
        )
        statement = select(*columns).where(OrderLine.order_id.in_(order_ids)).order_by(OrderLine.order_id, OrderLine.line_no)
        return list((await self.session.execute(statement)).all())

    async def replace_lines(self, order_ids: Collection[int], lines: list[dict[str, Any]]) -> None:
        if order_ids:
            await self.session.execute(
                delete(OrderLine).where(OrderLine.order_id.in_(order_ids)).execution_options(synchronize_session=False)
            )
        if lines:
            await self.session.execute(insert(OrderLine), lines)


class ProductRepository(Repository[Product]):
    model = Product

    async def by_ids(self, product_ids: Collection[int]) -> dict[int, Product]:
        if not product_ids:
            return {}
        return {p.id: p for p in (await self.session.scalars(select(Product).where(Product.id.in_(product_ids)))).all()}

    def filtered(
        self, *, name: str | None, model: str | None, batch: str | None, q: str | None, active: bool | None
    ) -> Select[Product]:
        statement = self.select()
        for column, value in ((Product.name, name), (Product.model, model), (Product.batch, batch)):
            if value:
                statement = statement.where(column.icontains(value, autoescape=True))
        if q:
            statement = statement.where(
                or_(*(column.icontains(q, autoescape=True) for column in (Product.name, Product.code, Product.model)))
            )
        if active is not None:
            statement = statement.where(Product.active.is_(active))
        return statement


class InventoryRepository(Repository[InventoryItem]):
    model = InventoryItem

    def filtered(self, *, product_id: int | None, product_name: str | None, warehouse: str | None) -> Select[InventoryItem]:
        statement = self.select().options(selectinload(InventoryItem.product))
        if product_id is not None:
            statement = statement.where(InventoryItem.product_id == product_id)
        if product_name:
            named = select(Product.id).where(Product.name.icontains(product_name, autoescape=True))
            statement = statement.where(InventoryItem.product_id.in_(named))
        if warehouse:
            statement = statement.where(InventoryItem.warehouse == warehouse)
        return statement


class OrderRepository(Repository[Order]):
    model = Order

    @staticmethod
    def completed_for_customer(customer_id: int | BindParameter[int]) -> Select[Any]:
        """The columns of the order history's rows (OrderSummary), and every key it sorts by."""
        columns = (*(getattr(Order, name) for name in OrderSummary.model_fields), Order.synced_at)
        return select(*columns).where(Order.customer_id == customer_id, among(Order.status, COMPLETED_ORDER_STATUSES))

    async def with_lines(self, order_id: int) -> Order | None:
        return await self.session.scalar(select(Order).where(Order.id == order_id).options(selectinload(Order.lines)))
