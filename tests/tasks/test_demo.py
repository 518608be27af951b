from sqlalchemy import func, select

from crm_api.demo import seed_demo
from crm_api.models.collaboration import Task


async def _statuses(app) -> list[tuple[str, int]]:
    async with app.state.db.sessionmaker() as session:
        rows = await session.execute(select(Task.status, func.count()).group_by(Task.status).order_by(Task.status))
        return [(status, count) for status, count in rows]


async def test_demo_tasks_seed_once(app):
    async with app.state.db.sessionmaker() as session, session.begin():
        await seed_demo(session)
    first = await _statuses(app)
    assert first == [("done", 1), ("open", 2)]
    async with app.state.db.sessionmaker() as session, session.begin():
        await seed_demo(session)
    assert await _statuses(app) == first
