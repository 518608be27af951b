from sqlalchemy import func, select

from crm_api.demo import seed_demo
from crm_api.models.pipeline import Lead, Opportunity, PlanItem


async def _statuses(session, model) -> dict[str, int]:
    rows = await session.execute(select(model.status, func.count()).group_by(model.status))
    return dict(rows.all())


async def test_demo_pipeline_covers_every_status_and_seeding_twice_adds_nothing(app):
    for _ in range(2):
        async with app.state.db.sessionmaker() as session, session.begin():
            await seed_demo(session)
    async with app.state.db.sessionmaker() as session:
        leads = await _statuses(session, Lead)
        opportunities = await _statuses(session, Opportunity)
        planned = set(
            (await session.scalars(select(Opportunity.status).join(PlanItem, PlanItem.opportunity_id == Opportunity.id))).all()
        )
    assert leads == {"new": 1, "working": 1, "qualified": 1, "disqualified": 1, "converted": 1}
    assert set(opportunities) == {"unassigned", "assigned", "won", "lost"}
    assert planned == {"assigned", "won", "lost"}
