"""Personal data (§3.11): export of everything stored about a customer or contact, erasure that anonymizes it in
place (aggregates stay; the audit trail is scrubbed of the erased values), and the consent log of a contact."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.audit.schemas import AuditEventRead
from crm_api.core import audit
from crm_api.core.clock import clock
from crm_api.core.errors import InvalidInput
from crm_api.core.pagination import Page, PageParams, Sort
from crm_api.core.permissions import Principal
from crm_api.customers import service as customers
from crm_api.customers.schemas import ContactRead, CustomerRead, InteractionRead
from crm_api.models.customer import Contact, ContactConsent, Customer
from crm_api.privacy import repository
from crm_api.privacy.repository import ConsentRepository
from crm_api.privacy.schemas import ConsentCreate, ConsentRead, ContactPersonalData, CustomerPersonalData, CustomerRef

ERASED_TEXT = "[erased]"
# Personal columns of each kind of record: set to None unless named in the erased values below.
CUSTOMER_PII = (
    "name",
    "name_normalized",
    "address",
    "postal_code",
    "phone",
    "phone_e164",
    "fax",
    "website",
    "email",
    "business_licence_no",
    "legal_representative",
    "bank",
    "bank_account",
    "local_tax_no",
    "national_tax_no",
    "custom_fields",
)
CONTACT_PII = ("name", "office_phone", "office_phone_e164", "mobile", "mobile_e164", "email", "notes", "custom_fields")
INTERACTION_PII = ("location", "summary", "details", "notes")
OPPORTUNITY_PII = ("customer_name", "contact_name", "contact_phone")
AUDIT_PII = {
    "customer": CUSTOMER_PII,
    "contact": CONTACT_PII,
    "interaction": INTERACTION_PII,
    "opportunity": OPPORTUNITY_PII,
}
CONSENT_ORDER = Sort([ContactConsent.at, ContactConsent.id], descending=False)


def _placeholder(record_id: int) -> str:
    return f"已删除用户 #{record_id}"


def _events(events: list[Any]) -> list[AuditEventRead]:
    return [AuditEventRead.model_validate(event) for event in events]


# Export


async def export_customer(session: AsyncSession, principal: Principal, customer_id: int) -> CustomerPersonalData:
    customer = await customers.get_customer(session, principal, customer_id)
    contacts = await customers.contacts_of(session, customer.id)
    interactions = await customers.interactions_of(session, customer.id)
    contact_ids = [contact.id for contact in contacts]
    events = await repository.audit_events_about(
        session,
        customer_id=customer.id,
        records={"contact": contact_ids, "interaction": [i.id for i in interactions]},
    )
    return CustomerPersonalData(
        exported_at=clock.now(),
        customer=CustomerRead.model_validate(customer),
        contacts=[ContactRead.model_validate(contact) for contact in contacts],
        interactions=[InteractionRead.model_validate(interaction) for interaction in interactions],
        consents=[ConsentRead.model_validate(c) for c in await ConsentRepository(session).all_of(contact_ids)],
        orders=await customers.orders_summary(session, customer.id),
        audit_events=_events(events),
    )


async def export_contact(session: AsyncSession, principal: Principal, customer_id: int, contact_id: int) -> ContactPersonalData:
    customer = await customers.get_customer(session, principal, customer_id)
    contact = await customers.contact_of(session, customer, contact_id)
    events = await repository.audit_events_about(session, customer_id=None, records={"contact": [contact.id]})
    return ContactPersonalData(
        exported_at=clock.now(),
        customer=CustomerRef.model_validate(customer),
        contact=ContactRead.model_validate(contact),
        consents=[ConsentRead.model_validate(c) for c in await ConsentRepository(session).all_of([contact.id])],
        audit_events=_events(events),
    )


# Erasure


def _anonymize(record: Any, fields: tuple[str, ...], erased: dict[str, Any]) -> None:
    for name in fields:
        if name in erased:
            setattr(record, name, erased[name])
        elif name != "name_normalized":  # follows the name
            setattr(record, name, {} if name == "custom_fields" else None)


def _erase_contact_fields(contact: Contact) -> None:
    _anonymize(contact, CONTACT_PII, {"name": _placeholder(contact.id)})
    contact.marketing_consent = False  # nobody is left to send marketing to
    contact.erased_at = clock.now()


def _scrub(events: list[Any]) -> None:
    """Overwrite the erased fields' values in the old events' changes: the trail keeps who changed what and when,
    not the values. The one place audit rows are rewritten; nothing else in the API does."""
    for event in events:
        fields = AUDIT_PII.get(event.entity_type, ())
        changes = {
            key: {side: ERASED_TEXT if value is not None else None for side, value in change.items()}
            if key in fields and isinstance(change, dict)
            else change
            for key, change in event.changes.items()
        }
        if changes != event.changes:
            event.changes = changes  # a new dict, so the JSON column sees the change


async def _erasable_customer(session: AsyncSession, actor: Principal, customer_id: int) -> Customer:
    # A soft-deleted customer may be erased too: that is the "hard erase" of §3.4.
    customer = await customers.load_customer(session, actor, customer_id, "privacy:erase", include_deleted=True)
    customers.ensure_not_erased(customer)
    return customer


async def erase_customer(session: AsyncSession, actor: Principal, customer_id: int, *, reason: str) -> Customer:
    """Anonymize the customer, its contacts and interactions in place, and who its opportunities were with;
    orders, opportunities and their amounts stay."""
    customer = await _erasable_customer(session, actor, customer_id)
    contacts = await customers.contacts_of(session, customer.id)
    interactions = await customers.interactions_of(session, customer.id)
    events = await repository.audit_events_about(
        session,
        customer_id=customer.id,
        records={
            "contact": [c.id for c in contacts],
            "interaction": [i.id for i in interactions],
            "opportunity": await repository.opportunity_ids(session, customer.id),
        },
    )
    _anonymize(customer, CUSTOMER_PII, {"name": _placeholder(customer.id)})
    customer.erased_at = clock.now()
    for contact in contacts:
        if contact.erased_at is None:
            _erase_contact_fields(contact)
    for interaction in interactions:
        _anonymize(interaction, INTERACTION_PII, dict.fromkeys(INTERACTION_PII, ERASED_TEXT))
    await repository.anonymize_linked(session, customer.id, name=customer.name)
    _scrub(events)
    await audit.record_erasure(session, actor=actor, entity_type="customer", entity=customer, reason=reason)
    return customer


async def erase_contact(session: AsyncSession, actor: Principal, customer_id: int, contact_id: int, *, reason: str) -> Contact:
    customer = await customers.load_customer(session, actor, customer_id, "privacy:erase", include_deleted=True)
    contact = await customers.contact_of(session, customer, contact_id)
    customers.ensure_not_erased(contact)
    _scrub(await repository.audit_events_about(session, customer_id=None, records={"contact": [contact.id]}))
    _erase_contact_fields(contact)
    await audit.record_erasure(session, actor=actor, entity_type="contact", entity=contact, reason=reason)
    return contact


# Consents


async def list_consents(
    session: AsyncSession, principal: Principal, customer_id: int, contact_id: int, params: PageParams
) -> Page[ConsentRead]:
    customer = await customers.get_customer(session, principal, customer_id)
    contact = await customers.contact_of(session, customer, contact_id)
    repo = ConsentRepository(session)
    consents, next_cursor, total = await repo.page(repo.of_contacts([contact.id]), params, CONSENT_ORDER)
    return Page(items=[ConsentRead.model_validate(c) for c in consents], next_cursor=next_cursor, total=total)


def _marketing_consent(log: list[ContactConsent]) -> bool:
    """Some marketing purpose whose latest record (by when it was said) is a grant."""
    latest: dict[str, bool] = {}
    for consent in sorted(log, key=lambda c: (c.at, c.id)):
        latest[consent.purpose] = consent.granted
    return any(granted for purpose, granted in latest.items() if purpose.startswith("marketing_"))


async def record_consent(
    session: AsyncSession, actor: Principal, customer_id: int, contact_id: int, data: ConsentCreate
) -> ContactConsent:
    """Append a grant or withdrawal and re-derive the contact's marketing flag. Allowed for a churned customer too:
    a withdrawal must always be recordable."""
    customer = await customers.load_customer(session, actor, customer_id, "customers:write")
    customers.ensure_not_erased(customer)
    contact = await customers.contact_of(session, customer, contact_id)
    customers.ensure_not_erased(contact)
    now = clock.now()
    if data.at is not None and data.at > now:
        raise InvalidInput("at", "A consent cannot be given in the future", code="consent.in_future")
    consent = ContactConsent(
        contact_id=contact.id,
        purpose=data.purpose,
        granted=data.granted,
        source=data.source,
        at=data.at or now,
        recorded_by_id=actor.user_id,
    )
    session.add(consent)
    await session.flush()
    before = {"marketing_consent": contact.marketing_consent}
    contact.marketing_consent = _marketing_consent(await ConsentRepository(session).all_of([contact.id]))
    await audit.record_change(
        session,
        actor=actor,
        entity_type="contact",
        entity=contact,
        action="consent_grant" if data.granted else "consent_withdraw",
        before=before,
        view=lambda c: {"marketing_consent": c.marketing_consent, "consent_id": consent.id, "purpose": data.purpose},
    )
    return consent
