"""Email to a contact (SRS 003 §3.8): sent over SMTP through the channel outbox, and kept as an interaction."""

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.clock import local_today
from crm_api.core.config import Settings
from crm_api.core.errors import InvalidInput
from crm_api.core.permissions import Principal
from crm_api.customers import service
from crm_api.customers.schemas import ContactEmailCreate, ContactEmailSent, InteractionCreate, InteractionRead
from crm_api.notifications import service as notifications
from crm_api.notifications.policy import DeliveryPurpose

EMAIL_LOCATION = "email"


async def email_contact(
    session: AsyncSession, actor: Principal, settings: Settings, customer_id: int, data: ContactEmailCreate
) -> ContactEmailSent:
    """Queue the email and record it as today's interaction, in one transaction: both or neither."""
    customer = await service.writable_customer(session, actor, customer_id)
    contact = await service.contact_of(session, customer, data.contact_id)
    if not contact.email:
        raise InvalidInput("contact_id", f"Contact {contact.id} has no email address", code="contact.no_email")
    delivery = await notifications.queue_email(
        session, to=contact.email, subject=data.subject, body=data.body, purpose=DeliveryPurpose.CONTACT_EMAIL
    )
    interaction = await service.add_interaction(
        session,
        actor,
        customer.id,
        InteractionCreate(
            occurred_on=local_today(settings.time_zone),
            location=EMAIL_LOCATION,
            summary=data.subject,
            details=data.body,
            notes=f"Email to {contact.name} <{contact.email}>",
        ),
    )
    return ContactEmailSent(
        interaction=InteractionRead.model_validate(interaction), delivery_id=delivery.id, to=contact.email, status=delivery.status
    )
