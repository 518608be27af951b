"""Email to a contact: sent over SMTP through the delivery log and recorded as an interaction with its subject."""

from tests.customers.factories import make_contact, make_customer
from tests.factories import assert_problem
from tests.notifications.receivers import SMTP_PASSWORD, SMTP_USER, smtp_server

SMTP = "/api/v1/settings/smtp"
DISPATCH = "/api/v1/jobs/notification_dispatch/run"
BODY = "王经理您好：\n附件是包装线的报价，请查收。"


async def test_an_email_to_a_contact_is_sent_and_recorded_as_an_interaction(api, people):
    admin = await people.make("admin")
    owner = await people.make("account_manager")
    customer = await make_customer(api, owner)
    contact = await make_contact(api, owner, customer["id"], name="王强", email="wang.qiang@example.com")
    async with smtp_server() as (port, inbox):
        smtp = {"host": "127.0.0.1", "port": port, "security": "none", "username": SMTP_USER, "password": SMTP_PASSWORD}
        assert (await api.put(SMTP, json=smtp | {"sender": "sales@example.com"}, headers=admin.headers)).status_code == 200
        sent = await api.post(
            f"/api/v1/customers/{customer['id']}/emails",
            json={"contact_id": contact["id"], "subject": "包装线报价 Quotation", "body": BODY},
            headers=owner.headers,
        )
        assert sent.status_code == 202, sent.text
        assert sent.json()["to"] == "wang.qiang@example.com" and sent.json()["status"] == "pending"
        assert (await api.post(DISPATCH, headers=admin.headers)).json()["counts"] == {"sent": 1, "succeeded": 1}

    [message] = inbox.messages
    assert message["Subject"] == "包装线报价 Quotation" and message["To"] == "wang.qiang@example.com"
    assert message["From"] == "sales@example.com"
    assert message.get_content().replace("\r\n", "\n").strip() == BODY  # SMTP lines end in CRLF
    [interaction] = (await api.get(f"/api/v1/customers/{customer['id']}/interactions", headers=owner.headers)).json()["items"]
    assert interaction["summary"] == "包装线报价 Quotation" and interaction["location"] == "email"
    assert interaction["details"] == BODY and interaction["id"] == sent.json()["interaction"]["id"]
    [delivery] = (await api.get("/api/v1/notification-deliveries", headers=admin.headers)).json()["items"]
    assert delivery["purpose"] == "contact_email" and delivery["status"] == "succeeded"


async def test_emailing_needs_the_customer_in_scope_and_a_contact_with_an_address(api, people):
    owner = await people.make("account_manager")
    stranger = await people.make("account_manager")
    marketer = await people.make("marketer")
    customer = await make_customer(api, owner)
    other = await make_customer(api, owner, name="另一家公司")
    without = await make_contact(api, owner, customer["id"])
    elsewhere = await make_contact(api, owner, other["id"], email="x@example.com")
    url = f"/api/v1/customers/{customer['id']}/emails"
    body = {"contact_id": without["id"], "subject": "Hello", "body": "Hi"}
    assert_problem(await api.post(url, json=body), 401)
    assert_problem(await api.post(url, json=body, headers=marketer.headers), 403)
    assert_problem(await api.post(url, json=body, headers=stranger.headers), 404, "customer.not_found")
    assert_problem(await api.post(url, json=body, headers=owner.headers), 422, "contact.no_email")
    assert_problem(
        await api.post(url, json=body | {"contact_id": elsewhere["id"]}, headers=owner.headers), 404, "contact.not_found"
    )
    assert_problem(await api.post(url, json=body | {"subject": ""}, headers=owner.headers), 422)
    # Nothing half-written: no interaction, no delivery.
    assert (await api.get(f"{url.rsplit('/', 1)[0]}/interactions", headers=owner.headers)).json()["items"] == []
