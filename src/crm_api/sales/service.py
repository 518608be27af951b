"""Reading the sales read model: a customer's completed orders, order detail, products and inventory."""

from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core import audit
from crm_api.core.errors import NotFound
from crm_api.core.http import check_if_match
from crm_api.core.pagination import Page, PageParams, PageRows, Sort
from crm_api.core.permissions import PerScopeShape, Principal
from crm_api.core.types import to_money
from crm_api.customers import service as customers
from crm_api.models.sales import InventoryItem, Order, OrderLine, Product
from crm_api.sales.repository import InventoryRepository, OrderRepository, ProductRepository
from crm_api.sales.schemas import (
    InventoryRead,
    OrderDetail,
    OrderLineRead,
    OrderSummary,
    ProductCreate,
    ProductRead,
    ProductUpdate,
)

# Newest first; the id breaks ties between orders of the same day.
ORDER_HISTORY_SORT = Sort([Order.order_date, Order.id])
# The order history's statement by the shape of the caller's customer scope (`visibility_gate`).
_ORDER_HISTORY: PerScopeShape[Select[Any]] = PerScopeShape()
PRODUCT = "product"


class PricedLine(Protocol):
    quantity: Decimal
    unit_price: Decimal


def line_amount(line: PricedLine) -> Decimal:
    return to_money(line.quantity * line.unit_price)


def order_total(lines: Iterable[PricedLine]) -> Decimal:
    """The order total as the sales system invoices it: the sum of the lines, each to the cent."""
    return sum((line_amount(line) for line in lines), start=Decimal("0.00"))


def _line_read(line: OrderLine) -> OrderLineRead:
    return OrderLineRead(
        line_no=line.line_no,
        product_id=line.product_id,
        product_name=line.product_name,
        quantity=line.quantity,
        unit=line.unit,
        unit_price=line.unit_price,
        amount=line_amount(line),
    )


async def customer_orders(
    session: AsyncSession, principal: Principal, customer_id: int, params: PageParams
) -> Page[OrderSummary]:
    """Shipped and paid orders of a customer in the caller's scope, newest first: one statement, which also asks
    whether the caller may see the customer, built once per shape of the caller's scope."""
    gate = customers.visibility_gate(principal, customer_id)
    history = _ORDER_HISTORY.get(
        principal, gate.permission, lambda: OrderRepository.completed_for_customer(gate.customer_id).where(gate.condition)
    )
    page = await OrderRepository(session).page(
        history, params, ORDER_HISTORY_SORT, rows=PageRows.RECORDS, parameters=gate.parameters
    )
    # An empty page is also what a customer outside the caller's scope gives: only then is it asked apart.
    if not page.rows and not await customers.is_visible(session, principal, customer_id):
        raise NotFound("Customer", customer_id)
    return page.to_page(OrderSummary.model_validate)


async def get_order(session: AsyncSession, principal: Principal, order_id: int) -> OrderDetail:
    """An order with its lines; visible when its customer is."""
    order = await OrderRepository(session).with_lines(order_id)
    if order is None or not await customers.is_visible(session, principal, order.customer_id):
        raise NotFound("Order", order_id)
    return OrderDetail(
        id=order.id,
        external_id=order.external_id,
        number=order.number,
        customer_id=order.customer_id,
        order_date=order.order_date,
        shipping_address=order.shipping_address,
        status=order.status,
        total=order_total(order.lines),
        synced_at=order.synced_at,
        lines=[_line_read(line) for line in order.lines],
    )


async def list_products(
    session: AsyncSession,
    params: PageParams,
    *,
    name: str | None,
    model: str | None,
    batch: str | None,
    q: str | None = None,
    active: bool | None = None,
) -> Page[ProductRead]:
    repo = ProductRepository(session)
    statement = repo.filtered(name=name, model=model, batch=batch, q=q, active=active)
    return (await repo.page(statement, params)).to_page(ProductRead.model_validate)


async def get_product(session: AsyncSession, product_id: int) -> Product:
    return await ProductRepository(session).get_or_404(product_id, "Product")


async def products_by_id(session: AsyncSession, product_ids: Iterable[int]) -> dict[int, Product]:
    """The products that exist among `product_ids` (a quote's lines), in one query."""
    return await ProductRepository(session).by_ids(set(product_ids))


async def create_product(session: AsyncSession, actor: Principal, data: ProductCreate) -> Product:
    product = Product(**data.model_dump())
    session.add(product)
    await audit.record_change(session, actor=actor, entity_type=PRODUCT, entity=product, action="create", before=None)
    return product


async def update_product(
    session: AsyncSession, actor: Principal, product_id: int, data: ProductUpdate, *, if_match: str | None = None
) -> Product:
    product = await get_product(session, product_id)
    check_if_match(if_match, product)
    before = audit.snapshot(product)
    for field, value in data.changes().items():
        setattr(product, field, value)
    await audit.record_change(session, actor=actor, entity_type=PRODUCT, entity=product, action="update", before=before)
    return product


def _inventory_read(item: InventoryItem) -> InventoryRead:
    return InventoryRead(
        id=item.id,
        external_id=item.external_id,
        product_id=item.product_id,
        product_name=item.product.name,
        warehouse=item.warehouse,
        location=item.location,
        quantity=item.quantity,
        synced_at=item.synced_at,
    )


async def list_inventory(
    session: AsyncSession, params: PageParams, *, product_id: int | None, product_name: str | None, warehouse: str | None
) -> Page[InventoryRead]:
    repo = InventoryRepository(session)
    statement = repo.filtered(product_id=product_id, product_name=product_name, warehouse=warehouse)
    return (await repo.page(statement, params)).to_page(_inventory_read)
