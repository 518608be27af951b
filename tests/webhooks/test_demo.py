from sqlalchemy import select

from crm_api.demo import seed_demo
from crm_api.models.webhook import WebhookSubscription


async def test_demo_has_one_inactive_webhook_and_a_second_seed_adds_nothing(app):
    for _ in range(2):
        async with app.state.db.sessionmaker() as session, session.begin():
            await seed_demo(session)
        async with app.state.db.sessionmaker() as session:
            webhooks = list((await session.scalars(select(WebhookSubscription))).all())
        assert [(w.active, w.event_types) for w in webhooks] == [
            (False, ["churn_warning.opened", "opportunity.won", "ticket.archived"])
        ]
