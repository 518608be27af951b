from datetime import timedelta

from crm_api.core.clock import clock
from tests.customers.factories import BASE, audit_of, churn, make_contact, make_customer, two_managers
from tests.factories import assert_problem


async def _contact(client, actors):
    owner, other = await two_managers(actors)
    customer = await make_customer(client, owner)
    contact = await make_contact(client, owner, customer["id"])
    return owner, other, f"{BASE}/{customer['id']}/contacts/{contact['id']}", customer


async def _consent(client, actor, url, purpose, granted, **fields):
    body = {"purpose": purpose, "granted": granted, "source": "官网表单"} | fields
    return await client.post(f"{url}/consents", json=body, headers=actor.headers)


async def _flag(client, actor, url):
    return (await client.get(url, headers=actor.headers)).json()["marketing_consent"]


async def test_consents_are_guarded(client, actors):
    owner, other, url, _ = await _contact(client, actors)
    marketer = await actors.make("marketer")
    body = {"purpose": "marketing_email", "granted": True, "source": "web"}
    for method, payload in (("GET", None), ("POST", body)):
        assert_problem(await client.request(method, f"{url}/consents", json=payload), 401)
        assert_problem(await client.request(method, f"{url}/consents", json=payload, headers=marketer.headers), 403)
        assert_problem(
            await client.request(method, f"{url}/consents", json=payload, headers=other.headers), 404, "customer.not_found"
        )
    missing = url.rsplit("/", 1)[0] + "/999999/consents"
    assert_problem(await client.get(missing, headers=owner.headers), 404, "contact.not_found")


async def test_the_log_is_append_only_and_drives_the_marketing_flag(client, actors, frozen_clock):
    owner, _, url, _ = await _contact(client, actors)
    assert await _flag(client, owner, url) is False
    granted = await _consent(client, owner, url, "marketing_email", True)
    assert granted.status_code == 201, granted.text
    assert granted.json()["recorded_by_id"] == owner.id
    assert await _flag(client, owner, url) is True
    clock.advance(timedelta(minutes=1))
    assert (await _consent(client, owner, url, "marketing_sms", True)).status_code == 201
    clock.advance(timedelta(minutes=1))
    assert (await _consent(client, owner, url, "marketing_email", False, source="电话")).status_code == 201
    assert await _flag(client, owner, url) is True  # SMS still granted
    clock.advance(timedelta(minutes=1))
    assert (await _consent(client, owner, url, "marketing_sms", False)).status_code == 201
    assert await _flag(client, owner, url) is False
    # A non-marketing purpose does not make the contact reachable for marketing.
    assert (await _consent(client, owner, url, "data_sharing", True)).status_code == 201
    assert await _flag(client, owner, url) is False

    log = (await client.get(f"{url}/consents", headers=owner.headers)).json()["items"]
    assert [(c["purpose"], c["granted"]) for c in log] == [
        ("marketing_email", True),
        ("marketing_sms", True),
        ("marketing_email", False),
        ("marketing_sms", False),
        ("data_sharing", True),
    ]
    # Nothing changes or removes a record.
    consent_url = f"{url}/consents/{log[0]['id']}"
    assert (await client.patch(consent_url, json={"granted": False}, headers=owner.headers)).status_code in (404, 405)
    assert (await client.delete(consent_url, headers=owner.headers)).status_code in (404, 405)
    assert (await client.delete(f"{url}/consents", headers=owner.headers)).status_code == 405
    assert len((await client.get(f"{url}/consents", headers=owner.headers)).json()["items"]) == 5


async def test_a_consent_dated_earlier_does_not_override_a_later_one(client, actors, frozen_clock):
    owner, _, url, _ = await _contact(client, actors)
    await _consent(client, owner, url, "marketing_email", False)
    earlier = (clock.now() - timedelta(days=30)).isoformat()
    assert (await _consent(client, owner, url, "marketing_email", True, at=earlier)).status_code == 201
    assert await _flag(client, owner, url) is False


async def test_consent_input_is_checked_and_nothing_is_written(client, actors, frozen_clock):
    owner, _, url, _ = await _contact(client, actors)
    future = (clock.now() + timedelta(days=1)).isoformat()
    assert_problem(await _consent(client, owner, url, "marketing_email", True, at=future), 422, "consent.in_future")
    assert_problem(await _consent(client, owner, url, "spam", True), 422)
    assert_problem(await _consent(client, owner, url, "marketing_email", True, recorded_by_id=1), 422)
    assert (await client.get(f"{url}/consents", headers=owner.headers)).json()["items"] == []
    assert await _flag(client, owner, url) is False


async def test_a_withdrawal_is_recorded_for_a_churned_customer_and_audited(app, client, actors, frozen_clock):
    owner, _, url, customer = await _contact(client, actors)
    await _consent(client, owner, url, "marketing_email", True)
    await churn(app, customer["id"])
    assert (await _consent(client, owner, url, "marketing_email", False)).status_code == 201
    assert await _flag(client, owner, url) is False
    admin = await actors.make("admin")
    contact_id = int(url.rsplit("/", 1)[1])
    actions = [e["action"] for e in await audit_of(client, admin, "contact", contact_id)]
    assert actions == ["create", "consent_grant", "consent_withdraw"]
