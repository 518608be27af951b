from collections.abc import Iterable

from sqlalchemy import Select, String, cast, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.repository import Repository
from crm_api.models.customer import Contact, ContactConsent, Interaction
from crm_api.models.pipeline import Opportunity
from crm_api.models.platform import AuditEvent
from crm_api.models.sales import Order


class ConsentRepository(Repository[ContactConsent]):
    """Consents of one contact; the data scope is the customer's, which the service checks first."""

    model = ContactConsent

    def of_contacts(self, contact_ids: Iterable[int]) -> Select[ContactConsent]:
        return self.select().where(ContactConsent.contact_id.in_(list(contact_ids)))

    async def all_of(self, contact_ids: Iterable[int]) -> list[ContactConsent]:
        statement = self.of_contacts(contact_ids).order_by(ContactConsent.at, ContactConsent.id)
        return list((await self.session.scalars(statement)).all())


# Audit entity types of the records that belong to a customer, with the model kept under each.
CUSTOMER_RECORD_TYPES: dict[str, type[Contact] | type[Interaction]] = {"contact": Contact, "interaction": Interaction}


async def audit_events_about(
    session: AsyncSession, *, customer_id: int | None, records: dict[str, list[int]]
) -> list[AuditEvent]:
    """Events about the customer and the listed records (entity type -> ids), oldest first. With `customer_id`,
    also the events of that customer's records deleted since, found by the customer id their changes carry."""
    conditions = []
    if customer_id is not None:
        conditions.append((AuditEvent.entity_type == "customer") & (AuditEvent.entity_id == str(customer_id)))
    for entity_type, ids in records.items():
        wanted = AuditEvent.entity_type == entity_type
        conditions.append(wanted & AuditEvent.entity_id.in_([str(i) for i in ids]))
        if customer_id is not None and entity_type in CUSTOMER_RECORD_TYPES:
            model = CUSTOMER_RECORD_TYPES[entity_type]
            conditions.append(wanted & AuditEvent.entity_id.not_in(select(cast(model.id, String))))
    statement = select(AuditEvent).where(or_(*conditions)).order_by(AuditEvent.occurred_at, AuditEvent.id)
    events = list((await session.scalars(statement)).all())
    known = {(t, str(i)) for t, ids in records.items() for i in ids}
    return [
        e
        for e in events
        if e.entity_type == "customer" or (e.entity_type, e.entity_id) in known or _about_customer(e, customer_id)
    ]


def _about_customer(event: AuditEvent, customer_id: int | None) -> bool:
    change = event.changes.get("customer_id") or {}
    return customer_id is not None and customer_id in (change.get("before"), change.get("after"))


async def opportunity_ids(session: AsyncSession, customer_id: int) -> list[int]:
    return list(await session.scalars(select(Opportunity.id).where(Opportunity.customer_id == customer_id)))


async def anonymize_linked(session: AsyncSession, customer_id: int, *, name: str) -> None:
    """The customer's orders and opportunities stay, with their amounts; only who they were with and where the
    goods went are personal."""
    await session.execute(update(Order).where(Order.customer_id == customer_id).values(shipping_address=None))
    await session.execute(
        update(Opportunity)
        .where(Opportunity.customer_id == customer_id)
        .values(customer_name=name, contact_name=None, contact_phone=None)
    )
