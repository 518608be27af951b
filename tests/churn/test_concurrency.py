"""Of N confirms of one warning at once exactly one wins: one audit trail, one event, one churned customer (PostgreSQL)."""

from sqlalchemy import func, select

from crm_api.models.churn import ChurnMeasure
from crm_api.models.customer import Customer
from tests.churn.factories import make_customer, make_warning
from tests.concurrency import RACERS, audited, losers_codes, published, race, skip_unless_postgresql, statuses

URL = "/api/v1/churn-warnings"


async def test_concurrent_confirms_churn_the_customer_once(app, client, actors, settings):
    skip_unless_postgresql(settings)
    owner = await actors.make("account_manager", team="East")
    customer_id = await make_customer(app, owner.id)
    warning_id = await make_warning(app, customer_id, status="postponed")
    async with app.state.db.sessionmaker() as session, session.begin():
        session.add(ChurnMeasure(warning_id=warning_id, measure="回访", author_id=owner.id))

    responses = await race(lambda _: client.post(f"{URL}/{warning_id}/confirm", json={"reason": "倒闭"}, headers=owner.headers))

    assert statuses(responses) == {200: 1, 409: RACERS - 1}
    assert losers_codes(responses) <= {"churn_warning.changed", "churn_warning.confirmed"}
    assert await audited(app, "churn_warning", "confirm") == 1
    assert await audited(app, "customer", "churn") == 1
    assert await published(app, "churn_warning.confirmed") == 1
    async with app.state.db.sessionmaker() as session:
        churned = await session.scalar(select(func.count()).where(Customer.status == "churned"))
        customer = await session.get(Customer, customer_id)
    assert churned == 1 and customer.version == 2
