from sqlalchemy import func, select

from crm_api.demo import seed_demo
from crm_api.models.customer import Contact, Customer, Interaction
from crm_api.models.identity import User


async def _counts(app):
    async with app.state.db.sessionmaker() as session:
        return [await session.scalar(select(func.count()).select_from(model)) for model in (Customer, Contact, Interaction)]


async def test_demo_customers_belong_to_the_demo_account_managers_and_seed_once(app):
    async with app.state.db.sessionmaker() as session, session.begin():
        await seed_demo(session)
    first = await _counts(app)
    assert first[0] >= 10 and first[1] >= 10 and first[2] >= 10
    async with app.state.db.sessionmaker() as session, session.begin():
        await seed_demo(session)
    assert await _counts(app) == first

    async with app.state.db.sessionmaker() as session:
        owners = set(await session.scalars(select(User.username).join(Customer, Customer.owner_id == User.id)))
        names = list(await session.scalars(select(Customer.name)))
    assert owners == {"li.na", "wang.fang", "liu.yang"}
    assert "上海华信科技有限公司" in names and all(name.endswith("有限公司") for name in names)
