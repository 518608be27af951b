"""The rules without the routes: consent derivation and erasure through the service."""

from datetime import UTC, datetime

import pytest

from crm_api.auth.principal import principal_for_user
from crm_api.core.errors import Conflict
from crm_api.models.customer import Contact, ContactConsent, Customer
from crm_api.privacy import service


def _consent(purpose, granted, day, consent_id):
    return ContactConsent(id=consent_id, purpose=purpose, granted=granted, at=datetime(2026, 6, day, tzinfo=UTC))


def test_the_flag_follows_the_latest_record_per_marketing_purpose_by_when_it_was_said():
    derive = service._marketing_consent
    assert derive([]) is False
    assert derive([_consent("marketing_email", True, 1, 1), _consent("marketing_email", False, 2, 2)]) is False
    # Recorded later but said earlier: the withdrawal stands.
    assert derive([_consent("marketing_email", False, 2, 1), _consent("marketing_email", True, 1, 2)]) is False
    assert derive([_consent("marketing_sms", True, 1, 1), _consent("marketing_email", False, 2, 2)]) is True
    assert derive([_consent("data_sharing", True, 1, 1)]) is False


async def test_erasure_through_the_service_and_a_second_one_refused(session, actors):
    admin = await actors.make("admin")
    principal, _ = await principal_for_user(session, admin.id)
    customer = Customer(code="KH-S1", name="杭州示例有限公司", owner_id=admin.id, phone="0571-1234", bank_account="62258")
    session.add(customer)
    await session.flush()
    contact = Contact(
        customer_id=customer.id, name="赵六", gender="male", title="经理", office_phone="0571-1235", marketing_consent=True
    )
    session.add(contact)
    await session.flush()

    erased = await service.erase_customer(session, principal, customer.id, reason="request")
    assert (erased.name, erased.phone, erased.bank_account) == (f"已删除用户 #{customer.id}", None, None)
    assert (contact.name, contact.office_phone, contact.marketing_consent) == (f"已删除用户 #{contact.id}", None, False)
    with pytest.raises(Conflict) as refused:
        await service.erase_contact(session, principal, customer.id, contact.id, reason="again")
    assert refused.value.code == "privacy.erased"
