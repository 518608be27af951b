"""`crm seed demo` twice: the second run adds nothing, least of all to records a user made in between."""

from sqlalchemy import func, select

from crm_api.core.orm import Base
from crm_api.demo import DEMO_PASSWORD, seed_demo
from crm_api.models.sales import Order


async def _seed(app):
    async with app.state.db.sessionmaker() as session, session.begin():
        await seed_demo(session)


async def _counts(app):
    async with app.state.db.sessionmaker() as session:
        return {
            table.name: await session.scalar(select(func.count()).select_from(table)) for table in Base.metadata.sorted_tables
        }


async def test_a_second_seed_changes_no_table_and_leaves_a_users_customer_alone(app, client):
    await _seed(app)
    login = await client.post("/api/v1/auth/login", json={"username": "li.na", "password": DEMO_PASSWORD})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    created = await client.post("/api/v1/customers", json={"name": "用户新建贸易有限公司"}, headers=headers)
    assert created.status_code == 201, created.text
    customer = created.json()
    contact = {"name": "用户联系人", "gender": "male", "title": "经理", "office_phone": "021-62345000", "mobile": "13900001111"}
    added = await client.post(f"/api/v1/customers/{customer['id']}/contacts", json=contact, headers=headers)
    assert added.status_code == 201, added.text
    after_user = await _counts(app)

    await _seed(app)

    assert await _counts(app) == after_user
    async with app.state.db.sessionmaker() as session:
        orders = await session.scalar(select(func.count()).select_from(Order).where(Order.customer_id == customer["id"]))
    assert orders == 0
