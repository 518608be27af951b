"""Demo consents: the demo contacts with a mobile agreed to marketing e-mails on the web form. Idempotent."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth.principal import principal_for_user
from crm_api.customers.demo import is_demo_customer
from crm_api.models.customer import Contact, ContactConsent, Customer
from crm_api.privacy.schemas import ConsentCreate
from crm_api.privacy.service import record_consent


async def seed_privacy(session: AsyncSession) -> None:
    rows = await session.execute(
        select(Contact.id, Contact.customer_id, Customer.owner_id)
        .join(Customer, Customer.id == Contact.customer_id)
        .where(
            is_demo_customer(),
            Contact.mobile.is_not(None),
            Contact.erased_at.is_(None),
            Customer.deleted_at.is_(None),
            ~select(ContactConsent.id).where(ContactConsent.contact_id == Contact.id).exists(),
        )
        .order_by(Contact.id)
    )
    for contact_id, customer_id, owner_id in rows.all():
        found = await principal_for_user(session, owner_id) if owner_id is not None else None
        if found is None:
            continue
        consent = ConsentCreate(purpose="marketing_email", granted=True, source="官网表单")
        await record_consent(session, found[0], customer_id, contact_id, consent)
