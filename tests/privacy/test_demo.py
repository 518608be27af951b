from sqlalchemy import func, select

from crm_api.demo import seed_demo
from crm_api.models.customer import Contact, ContactConsent


async def _counts(app):
    async with app.state.db.sessionmaker() as session:
        consents = await session.scalar(select(func.count()).select_from(ContactConsent))
        with_mobile = await session.scalar(select(func.count()).where(Contact.mobile.is_not(None)))
        flagged = await session.scalar(select(func.count()).where(Contact.marketing_consent.is_(True)))
    return consents, with_mobile, flagged


async def test_demo_contacts_with_a_mobile_consented_to_marketing_email_once(app):
    async with app.state.db.sessionmaker() as session, session.begin():
        await seed_demo(session)
    first = await _counts(app)
    assert first[0] == first[1] == first[2] > 0
    async with app.state.db.sessionmaker() as session, session.begin():
        await seed_demo(session)
    assert await _counts(app) == first
