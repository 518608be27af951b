from sqlalchemy import func, select

from crm_api.demo import seed_demo
from crm_api.models.churn import ChurnWarning
from crm_api.models.ticket import KbArticle, ServiceTicket, SlaPolicy


async def _counts(app) -> dict:
    async with app.state.db.sessionmaker() as session:
        tickets = dict((await session.execute(select(ServiceTicket.status, func.count()).group_by(ServiceTicket.status))).all())
        warnings = dict((await session.execute(select(ChurnWarning.status, func.count()).group_by(ChurnWarning.status))).all())
        articles = await session.scalar(select(func.count()).select_from(KbArticle))
        policies = await session.scalar(select(func.count()).select_from(SlaPolicy))
    return {"tickets": tickets, "warnings": warnings, "articles": articles, "policies": policies}


async def test_demo_has_every_status_and_a_second_seed_adds_nothing(app):
    for _ in range(2):
        async with app.state.db.sessionmaker() as session, session.begin():
            await seed_demo(session)
        counts = await _counts(app)
        assert counts == {
            "tickets": {"new": 1, "assigned": 2, "handled": 1, "archived": 1},
            "warnings": {"open": 1, "postponed": 1, "confirmed": 1},
            "articles": 3,
            "policies": 12,
        }
