from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from crm_api.core.errors import InvalidInput
from crm_api.models.platform import AuditEvent
from crm_api.models.sales import Order
from crm_api.sales import ingest
from crm_api.sales.schemas import OrderIn, OrderLineIn, ProductIn
from crm_api.sales.service import order_total
from tests.sales.factories import make_customer


def _line(quantity: str, unit_price: str) -> OrderLineIn:
    return OrderLineIn(product_external_id="P1", quantity=Decimal(quantity), unit_price=Decimal(unit_price))


def test_order_total_sums_the_lines_each_to_the_cent():
    assert order_total([_line("3", "0.10")]) == Decimal("0.30")
    assert order_total([_line("3", "0.10"), _line("0.333", "0.30"), _line("0.005", "1.00")]) == Decimal("0.41")
    assert order_total([_line("0.1", "0.10")] * 10) == Decimal("0.10")  # 0.01 × 10, never a float's 0.0999…
    assert order_total([]) == Decimal("0.00")


def _order(external_id: str, customer_code: str, **fields) -> OrderIn:
    return OrderIn(
        external_id=external_id,
        number=f"SO-{external_id}",
        customer_code=customer_code,
        order_date=date(2026, 3, 1),
        status=5,
        lines=[OrderLineIn(product_external_id="P1", quantity=Decimal("2"), unit_price=Decimal("0.35"))],
        **fields,
    )


async def test_services_sync_as_the_system_and_refuse_a_bad_batch_whole(app, actors, session):
    manager = await actors.make("account_manager")
    await make_customer(app, owner_id=manager.id, code="KH1")
    await ingest.sync_products(session, None, [ProductIn(external_id="P1", name="螺纹钢")])
    result = await ingest.sync_orders(session, None, [_order("O1", "KH1", total=Decimal("0.70"))])
    assert (result.created, result.updated, result.unchanged) == (1, 0, 0)
    assert await session.scalar(select(Order.total)) == Decimal("0.70")
    await session.flush()  # audit events are added to the session, written with the unit of work
    labels = (await session.scalars(select(AuditEvent.actor_label).where(AuditEvent.entity_type == "sales_batch"))).all()
    assert labels == ["system", "system"]

    with pytest.raises(InvalidInput) as refused:
        await ingest.sync_orders(session, None, [_order("O2", "KH1"), _order("O3", "KH1", customer_external_id="X")])
    assert [(e.field, e.message) for e in refused.value.errors] == [
        ("items.1.customer", "Send exactly one of customer_code and customer_external_id")
    ]
    assert refused.value.code == "sales.invalid_batch"
