from sqlalchemy import func, select

from crm_api.demo import seed_demo
from crm_api.models.marketing import Campaign, CampaignTouch, CampaignVariant, CustomerRfm, Segment


async def _counts(app) -> list[int]:
    async with app.state.db.sessionmaker() as session:
        return [
            await session.scalar(select(func.count()).select_from(model))
            for model in (Segment, Campaign, CampaignVariant, CampaignTouch, CustomerRfm)
        ]


async def test_demo_has_a_campaign_in_every_status_and_seeds_once(app, client):
    async with app.state.db.sessionmaker() as session, session.begin():
        await seed_demo(session)
    first = await _counts(app)
    segments, _, variants, touches, _ = first
    assert segments == 2 and variants == 3 and touches > 0
    async with app.state.db.sessionmaker() as session, session.begin():
        await seed_demo(session)
    assert await _counts(app) == first
    async with app.state.db.sessionmaker() as session:
        statuses = set(await session.scalars(select(Campaign.status)))
    assert statuses == {"draft", "scheduled", "running", "done", "cancelled"}
