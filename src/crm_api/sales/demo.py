"""Demo products, stock and a year of orders for every demo customer, pushed through the same upserts as the sales system."""

import random
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.customers.demo import is_demo_customer
from crm_api.models.customer import Customer
from crm_api.sales import ingest
from crm_api.sales.schemas import MAX_BATCH, InventoryIn, OrderIn, OrderLineIn, ProductIn

# name, model, unit, price
DEMO_PRODUCTS = [
    ("热轧螺纹钢", "HRB400E-16", "吨", "3980.00"),
    ("热轧螺纹钢", "HRB400E-25", "吨", "3950.00"),
    ("冷轧钢板", "SPCC-1.0", "吨", "4650.00"),
    ("镀锌钢板", "DX51D-Z120", "吨", "5120.00"),
    ("不锈钢板", "304-2B-2.0", "吨", "15800.00"),
    ("不锈钢无缝管", "316L-57x3", "米", "86.50"),
    ("焊接钢管", "Q235B-DN50", "米", "32.80"),
    ("角钢", "Q235-50x5", "吨", "4120.00"),
    ("槽钢", "Q235-10#", "吨", "4080.00"),
    ("工字钢", "Q235-20a", "吨", "4150.00"),
    ("高强度螺栓", "M20x80-10.9S", "套", "6.80"),
    ("不锈钢螺母", "A2-70-M12", "个", "0.45"),
    ("平垫圈", "GB97.1-M16", "个", "0.12"),
    ("铝合金型材", "6063-T5", "千克", "23.60"),
    ("紫铜管", "TP2-15x1", "米", "41.20"),
    ("电力电缆", "YJV-3x95", "米", "268.00"),
    ("控制电缆", "KVV-10x1.5", "米", "18.90"),
    ("三相异步电动机", "YE3-132M-4", "台", "3260.00"),
    ("变频器", "VFD-7.5kW", "台", "2890.00"),
    ("离心水泵", "IS80-65-160", "台", "2150.00"),
    ("球阀", "Q41F-16C-DN50", "个", "385.00"),
    ("闸阀", "Z41H-16C-DN100", "个", "920.00"),
    ("深沟球轴承", "6205-2RS", "套", "12.50"),
    ("圆锥滚子轴承", "30208", "套", "38.00"),
    ("液压油", "L-HM46", "桶", "1180.00"),
    ("工业齿轮油", "L-CKC220", "桶", "1360.00"),
    ("焊丝", "ER50-6-1.2", "千克", "7.20"),
    ("切割片", "350x3x25.4", "片", "9.80"),
    ("安全帽", "ABS-V型", "顶", "28.00"),
    ("劳保手套", "丁腈浸胶", "双", "4.50"),
]
WAREHOUSES = [("上海仓", "SH"), ("广州仓", "GZ"), ("北京仓", "BJ")]
# Mostly completed orders, as a year of history looks; the rest are still on their way.
STATUS_WEIGHTS = {1: 1, 2: 1, 3: 1, 4: 1, 5: 6, 6: 14}


def _products() -> list[ProductIn]:
    return [
        ProductIn(
            external_id=f"DEMO-P{n:03d}", name=name, model=model, batch=f"2026{'ABCD'[n % 4]}", unit=unit, price=Decimal(price)
        )
        for n, (name, model, unit, price) in enumerate(DEMO_PRODUCTS, start=1)
    ]


def _inventory(products: list[ProductIn], rng: random.Random) -> list[InventoryIn]:
    return [
        InventoryIn(
            external_id=f"{p.external_id}-{code}",
            product_external_id=p.external_id,
            warehouse=warehouse,
            location=f"{code}-{rng.randint(1, 20):02d}-{rng.randint(1, 9)}",
            quantity=rng.randint(0, 800),
        )
        for p in products
        for warehouse, code in rng.sample(WAREHOUSES, k=rng.randint(2, 3))
    ]


def _orders(customers: list[Customer], products: list[ProductIn]) -> list[OrderIn]:
    orders = []
    for customer in customers:
        rng = random.Random(customer.code)  # a customer's orders do not depend on which other customers exist
        # Dated back from when the customer was created, so a later re-seed computes the same orders.
        anchor = customer.created_at.date()
        for n in range(1, rng.randint(4, 12) + 1):
            lines = [
                OrderLineIn(
                    product_external_id=p.external_id,
                    quantity=Decimal(rng.randint(1, 50)),
                    unit=p.unit,
                    unit_price=p.price or Decimal("1.00"),
                )
                for p in rng.sample(products, k=rng.randint(1, 4))
            ]
            orders.append(
                OrderIn(
                    external_id=f"DEMO-SO-{customer.code}-{n:02d}",
                    number=f"SO-{customer.code}-{n:02d}",
                    customer_code=customer.code,
                    order_date=anchor - timedelta(days=rng.randint(0, 364)),
                    shipping_address=customer.address or f"{customer.name}收货部",
                    status=rng.choices(list(STATUS_WEIGHTS), weights=list(STATUS_WEIGHTS.values()))[0],
                    lines=lines,
                )
            )
    return orders


async def seed_sales(session: AsyncSession) -> None:
    rng = random.Random(2026)  # the same demo every time: re-seeding changes nothing
    products = _products()
    await ingest.sync_products(session, None, products)
    await ingest.sync_inventory(session, None, _inventory(products, rng))
    demo = select(Customer).where(is_demo_customer(), Customer.deleted_at.is_(None)).order_by(Customer.id)
    customers = list((await session.scalars(demo)).all())
    orders = _orders(customers, products)
    for start in range(0, len(orders), MAX_BATCH):
        await ingest.sync_orders(session, None, orders[start : start + MAX_BATCH])
