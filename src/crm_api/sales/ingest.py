"""The sales system's bulk upserts by external id: set-based, idempotent, all-or-nothing per call.

Every referenced id is looked up in one query per kind, the batch is compared with what is stored, and only
what differs is written, in bulk. A record that cannot be stored fails the whole call with a per-record error.
"""

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core import audit
from crm_api.core.clock import clock
from crm_api.core.errors import FieldError, InvalidInput
from crm_api.core.permissions import Principal
from crm_api.core.schemas import InputModel
from crm_api.models.customer import Customer
from crm_api.models.sales import InventoryItem, Order, Product
from crm_api.sales.repository import Synced, SyncRepository
from crm_api.sales.schemas import InventoryIn, OrderIn, ProductIn, SyncResult
from crm_api.sales.service import order_total

PRODUCT_FIELDS = ("name", "model", "batch", "unit", "price")
INVENTORY_FIELDS = ("product_id", "warehouse", "location", "quantity")
ORDER_FIELDS = ("number", "customer_id", "order_date", "shipping_address", "status", "total")


class _Line(NamedTuple):
    """An order line as stored, compared field by field with what is already there."""

    product_id: int | None  # as stored: the column is nullable
    product_name: str
    quantity: Decimal
    unit: str | None
    unit_price: Decimal


@dataclass
class _Plan:
    """What a batch changes: rows to insert, rows to update (with their id), and how many already match."""

    creates: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    unchanged: int = 0

    def result(self) -> SyncResult:
        return SyncResult(created=len(self.creates), updated=len(self.updates), unchanged=self.unchanged)


def _plan(incoming: dict[str, dict[str, Any]], stored: dict[str, dict[str, Any]]) -> _Plan:
    plan = _Plan()
    for external_id, values in incoming.items():
        current = stored.get(external_id)
        if current is None:
            plan.creates.append({"external_id": external_id, **values})
        elif any(current[name] != value for name, value in values.items()):
            plan.updates.append({"id": current["id"], **values})
        else:
            plan.unchanged += 1
    return plan


def _error(index: int, name: str, message: str, kind: str = "value_error") -> FieldError:
    return FieldError(field=f"items.{index}.{name}", message=message, type=kind)


def _duplicates(items: Sequence[InputModel], name: str) -> list[FieldError]:
    first_seen: dict[Any, int] = {}
    errors = []
    for index, item in enumerate(items):
        value = getattr(item, name)
        if value in first_seen:
            errors.append(_error(index, name, f"{value} is also at items.{first_seen[value]}", "duplicate"))
        first_seen.setdefault(value, index)
    return errors


def _refuse_if_any(errors: list[FieldError], count: int) -> None:
    if errors:
        errors.sort(key=lambda e: [int(p) if p.isdigit() else p for p in e.field.split(".")])
        bad = len({e.field.split(".")[1] for e in errors})
        raise InvalidInput.many(errors, f"{bad} of {count} records are invalid; nothing was written", code="sales.invalid_batch")


async def _write(session: AsyncSession, model: type[Synced], plan: _Plan) -> dict[str, int]:
    """Inserts and updates the plan's rows; external_id -> id of every created row."""
    repo = SyncRepository(session)
    now = clock.now()
    created = await repo.insert(model, [row | {"synced_at": now} for row in plan.creates])
    await repo.update_by_id(model, [row | {"synced_at": now} for row in plan.updates])
    return created


async def _finish(session: AsyncSession, actor: Principal | None, kind: str, plan: _Plan) -> SyncResult:
    """One audit event per call that changed something; a repeated batch leaves no trace."""
    result = plan.result()
    if plan.creates or plan.updates:
        await audit.record_batch(
            session, actor=actor, batch_type="sales_batch", batch_id=kind, action="sync", summary=result.model_dump()
        )
    return result


async def sync_products(session: AsyncSession, actor: Principal | None, items: Sequence[ProductIn]) -> SyncResult:
    _refuse_if_any(_duplicates(items, "external_id"), len(items))
    incoming = {item.external_id: item.model_dump(include=set(PRODUCT_FIELDS)) for item in items}
    plan = _plan(incoming, await SyncRepository(session).current_values(Product, PRODUCT_FIELDS, incoming))
    await _write(session, Product, plan)
    return await _finish(session, actor, "products", plan)


async def product_ids_by_external_id(session: AsyncSession, external_ids: Collection[str]) -> dict[str, int]:
    """external_id -> id of the products already stored."""
    return {key: row.id for key, row in (await SyncRepository(session).lookup(Product.external_id, external_ids)).items()}


async def sync_inventory(session: AsyncSession, actor: Principal | None, items: Sequence[InventoryIn]) -> SyncResult:
    repo = SyncRepository(session)
    errors = _duplicates(items, "external_id")
    products = await repo.lookup(Product.external_id, {item.product_external_id for item in items})
    incoming = {}
    for index, item in enumerate(items):
        product = products.get(item.product_external_id)
        if product is None:
            message = f"Unknown product {item.product_external_id}"
            errors.append(_error(index, "product_external_id", message, "unknown_reference"))
            continue
        incoming[item.external_id] = item.model_dump(include=set(INVENTORY_FIELDS)) | {"product_id": product.id}
    _refuse_if_any(errors, len(items))
    plan = _plan(incoming, await repo.current_values(InventoryItem, INVENTORY_FIELDS, incoming))
    await _write(session, InventoryItem, plan)
    return await _finish(session, actor, "inventory", plan)


@dataclass(frozen=True)
class _OrderReferences:
    """Customers, products and order numbers a batch of orders refers to, each found in one query."""

    by_code: dict[str, Any]
    by_external_id: dict[str, Any]
    products: dict[str, Any]
    numbers: dict[str, Any]

    @classmethod
    async def load(cls, repo: SyncRepository, items: Sequence[OrderIn]) -> "_OrderReferences":
        product_ids = {line.product_external_id for item in items for line in item.lines}
        return cls(
            by_code=await repo.lookup(Customer.code, {i.customer_code for i in items if i.customer_code}),
            by_external_id=await repo.lookup(
                Customer.external_id, {i.customer_external_id for i in items if i.customer_external_id}
            ),
            products=await repo.lookup(Product.external_id, product_ids, Product.name),
            numbers=await repo.lookup(Order.number, {i.number for i in items}, Order.external_id),
        )

    def customer_id(self, index: int, item: OrderIn, errors: list[FieldError]) -> int | None:
        if (item.customer_code is None) == (item.customer_external_id is None):
            errors.append(_error(index, "customer", "Send exactly one of customer_code and customer_external_id"))
            return None
        if item.customer_code is not None:
            found = self.by_code.get(item.customer_code)
        elif item.customer_external_id is not None:
            found = self.by_external_id.get(item.customer_external_id)
        else:  # ruled out above: exactly one of the two is set
            return None
        if found is None:
            errors.append(
                _error(
                    index, "customer", f"Unknown customer {item.customer_code or item.customer_external_id}", "unknown_reference"
                )
            )
            return None
        return int(found.id)

    def lines(self, index: int, item: OrderIn, errors: list[FieldError]) -> tuple[_Line, ...]:
        lines = []
        for line_index, line in enumerate(item.lines):
            product = self.products.get(line.product_external_id)
            if product is None:
                errors.append(
                    _error(
                        index,
                        f"lines.{line_index}.product_external_id",
                        f"Unknown product {line.product_external_id}",
                        "unknown_reference",
                    )
                )
                continue
            lines.append(_Line(product.id, product.name, line.quantity, line.unit, line.unit_price))
        return tuple(lines)

    def number_taken(self, item: OrderIn) -> bool:
        holder = self.numbers.get(item.number)
        return holder is not None and holder.external_id != item.external_id


def _order_values(references: _OrderReferences, index: int, item: OrderIn, errors: list[FieldError]) -> dict[str, Any]:
    customer_id = references.customer_id(index, item, errors)
    lines = references.lines(index, item, errors)
    total = order_total(item.lines)
    if item.total is not None and item.total != total:
        message = f"The total {item.total} is not the sum of the lines, {total}"
        errors.append(_error(index, "total", message, "total_mismatch"))
    if references.number_taken(item):
        errors.append(_error(index, "number", f"Order number {item.number} belongs to another order", "duplicate"))
    return {
        "number": item.number,
        "customer_id": customer_id,
        "order_date": item.order_date,
        "shipping_address": item.shipping_address,
        "status": item.status,
        "total": total,
        "lines": lines,
    }


async def _stored_orders(repo: SyncRepository, external_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    stored = await repo.current_values(Order, ORDER_FIELDS, external_ids)
    lines: dict[int, list[_Line]] = {order["id"]: [] for order in stored.values()}
    for order_id, product_id, product_name, quantity, unit, unit_price in await repo.lines_of(list(lines)):
        lines[order_id].append(_Line(product_id, product_name, quantity, unit, unit_price))
    return {external_id: order | {"lines": tuple(lines[order["id"]])} for external_id, order in stored.items()}


async def sync_orders(session: AsyncSession, actor: Principal | None, items: Sequence[OrderIn]) -> SyncResult:
    repo = SyncRepository(session)
    errors = _duplicates(items, "external_id") + _duplicates(items, "number")
    references = await _OrderReferences.load(repo, items)
    incoming = {item.external_id: _order_values(references, index, item, errors) for index, item in enumerate(items)}
    _refuse_if_any(errors, len(items))
    plan = _plan(incoming, await _stored_orders(repo, list(incoming)))
    # Lines live in their own table: set them aside, write the orders, then replace the lines of every written order.
    new_lines = {row["external_id"]: row.pop("lines") for row in plan.creates}
    changed_lines = {row["id"]: row.pop("lines") for row in plan.updates}
    created_ids = await _write(session, Order, plan)
    lines_by_order = changed_lines | {created_ids[external_id]: lines for external_id, lines in new_lines.items()}
    await repo.replace_lines(
        list(changed_lines),
        [
            {"order_id": order_id, "line_no": line_no, **line._asdict()}
            for order_id, lines in lines_by_order.items()
            for line_no, line in enumerate(lines, start=1)
        ],
    )
    return await _finish(session, actor, "orders", plan)
