from sqlalchemy import func, select

from crm_api.demo import seed_demo
from crm_api.models.customer import Customer
from crm_api.models.sales import COMPLETED_ORDER_STATUSES, InventoryItem, Order, OrderLine, Product
from crm_api.sales.demo import seed_sales
from crm_api.sales.service import order_total
from tests.sales.factories import make_customer


async def _counts(app):
    async with app.state.db.sessionmaker() as session:
        return {
            model.__name__: await session.scalar(select(func.count()).select_from(model))
            for model in (Product, InventoryItem, Order, OrderLine)
        }


async def _seed(app, seed=seed_sales):
    async with app.state.db.sessionmaker() as session, session.begin():
        await seed(session)


async def test_sales_demo_without_customers_has_a_catalogue_and_no_orders(app):
    await _seed(app)
    counts = await _counts(app)
    assert counts["Product"] == 30 and 60 <= counts["InventoryItem"] <= 90
    assert counts["Order"] == 0


async def test_the_whole_demo_gives_the_demo_customers_orders_and_is_idempotent(app):
    await _seed(app, seed_demo)
    first = await _counts(app)
    assert first["Order"] > 0 and first["OrderLine"] >= first["Order"]
    await _seed(app, seed_demo)
    assert await _counts(app) == first
    async with app.state.db.sessionmaker() as session:
        ordering = set((await session.scalars(select(Order.customer_id).distinct())).all())
        customers = set((await session.scalars(select(Customer.id))).all())
    assert ordering <= customers


async def test_demo_orders_are_a_year_of_mostly_completed_orders_and_reseeding_adds_nothing(app, actors, frozen_clock):
    manager = await actors.make("account_manager")
    for n in range(5):
        await make_customer(app, owner_id=manager.id, code=f"KH-DEMO-{n}", external_id=f"demo-test-{n}")
    user_customer = await make_customer(app, owner_id=manager.id, code="KH-USER-1")  # a user's: the demo leaves it alone
    await _seed(app)
    first = await _counts(app)
    await _seed(app)
    assert await _counts(app) == first
    async with app.state.db.sessionmaker() as session:
        orders = (await session.execute(select(Order.status, Order.order_date))).all()
        dates = [row.order_date for row in orders]
        one = await session.scalar(select(Order).limit(1))
        lines = (await session.scalars(select(OrderLine).where(OrderLine.order_id == one.id))).all()
    assert len(orders) >= 20
    assert sum(row.status in COMPLETED_ORDER_STATUSES for row in orders) > len(orders) / 2
    assert {row.status for row in orders} - set(range(1, 7)) == set()
    assert (max(dates) - min(dates)).days > 180 and max(dates) <= frozen_clock.date()
    assert one.total == order_total(lines)
    async with app.state.db.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Order).where(Order.customer_id == user_customer)) == 0
