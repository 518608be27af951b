import pytest
from sqlalchemy import select

from crm_api.models.platform import AuditEvent
from crm_api.models.webhook import WebhookSubscription
from crm_api.webhooks.service import CATALOGUE
from tests.factories import assert_problem
from tests.opportunities.factories import count_rows
from tests.webhooks.factories import RECEIVER, URL, create_webhook, deliveries, outbox

PUBLIC_URL = "https://93.184.216.34/hooks"


async def test_every_route_needs_a_login_and_webhooks_write(client, actors):
    supervisor = await actors.make("sales_supervisor")
    routes = [
        ("GET", URL),
        ("POST", URL),
        ("GET", f"{URL}/event-types"),
        ("GET", f"{URL}/1"),
        ("PATCH", f"{URL}/1"),
        ("DELETE", f"{URL}/1"),
        ("GET", f"{URL}/1/deliveries"),
        ("POST", f"{URL}/1/test"),
        ("POST", f"{URL}/deliveries/1/retry"),
    ]
    for method, path in routes:
        body = {"url": PUBLIC_URL, "event_types": ["opportunity.won"]} if method in {"POST", "PATCH"} else None
        assert_problem(await client.request(method, path, json=body), 401)
        assert_problem(await client.request(method, path, json=body, headers=supervisor.headers), 403, "auth.missing_permission")


async def test_missing_webhook_or_delivery_is_404(client, actors):
    admin = await actors.make("admin")
    for method, path, code in [
        ("GET", f"{URL}/999", "webhook.not_found"),
        ("PATCH", f"{URL}/999", "webhook.not_found"),
        ("DELETE", f"{URL}/999", "webhook.not_found"),
        ("GET", f"{URL}/999/deliveries", "webhook.not_found"),
        ("POST", f"{URL}/999/test", "webhook.not_found"),
        ("POST", f"{URL}/deliveries/999/retry", "webhook_delivery.not_found"),
    ]:
        body = {"active": False} if method == "PATCH" else None
        assert_problem(await client.request(method, path, json=body, headers=admin.headers), 404, code)


async def test_event_type_catalogue(client, actors):
    admin = await actors.make("admin")
    response = await client.get(f"{URL}/event-types", headers=admin.headers)
    assert response.status_code == 200
    types = [item["type"] for item in response.json()]
    assert {"opportunity.won", "opportunity.lost", "ticket.archived", "churn_warning.opened"} <= set(types)
    assert types == list(CATALOGUE)
    assert all(item["payload_schema"]["properties"] for item in response.json())


async def test_create_shows_a_generated_secret_once(app, client, actors):
    admin = await actors.make("admin")
    created = await create_webhook(
        client,
        admin,
        url=PUBLIC_URL,
        event_types=["ticket.archived", "opportunity.won", "ticket.archived"],
        description="ERP sync",
    )
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 30
    assert created["event_types"] == ["opportunity.won", "ticket.archived"]
    assert created["active"] is True and created["created_by_id"] == admin.id and created["url"] == PUBLIC_URL

    read = await client.get(f"{URL}/{created['id']}", headers=admin.headers)
    assert read.status_code == 200 and read.headers["ETag"]
    assert "secret" not in read.json() and read.json() == {k: v for k, v in created.items() if k != "secret"}
    listed = await client.get(URL, headers=admin.headers)
    assert [item["id"] for item in listed.json()["items"]] == [created["id"]]
    assert created["secret"] not in listed.text

    async with app.state.db.sessionmaker() as session:
        [event] = (await session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "webhook"))).all()
    assert event.action == "create" and "secret" not in event.changes
    assert event.changes["event_types"]["after"] == ["opportunity.won", "ticket.archived"]


async def test_an_admin_may_supply_the_secret(client, actors):
    admin = await actors.make("admin")
    created = await create_webhook(client, admin, url=PUBLIC_URL, secret="my-own-signing-secret-1234")
    assert created["secret"] == "my-own-signing-secret-1234"
    assert_problem(
        await client.post(
            URL, json={"url": PUBLIC_URL, "event_types": ["opportunity.won"], "secret": "short"}, headers=admin.headers
        ),
        422,
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://192.168.1.10:8080/hook",
        "http://localhost:8000/hook",
        "http://[::1]/hook",
        "http://[::ffff:10.0.0.1]/hook",
        "http://2130706433/hook",  # 127.0.0.1 written as a number
        "http://0.0.0.0/hook",
    ],
)
async def test_private_and_loopback_hosts_are_refused(app, client, actors, url):
    admin = await actors.make("admin")
    refused = await client.post(URL, json={"url": url, "event_types": ["opportunity.won"]}, headers=admin.headers)
    body = assert_problem(refused, 422, "webhook.url_not_allowed")
    assert body["errors"][0]["field"] == "url"
    assert await count_rows(app, WebhookSubscription) == 0


async def test_other_bad_input_is_422_and_writes_nothing(app, client, actors):
    admin = await actors.make("admin")
    for body, code in [
        ({"url": "ftp://93.184.216.34/x", "event_types": ["opportunity.won"]}, None),
        ({"url": "not a url", "event_types": ["opportunity.won"]}, None),
        ({"url": PUBLIC_URL, "event_types": []}, None),
        ({"url": PUBLIC_URL, "event_types": ["opportunity.stolen"]}, "webhook.unknown_event_type"),
        ({"url": PUBLIC_URL, "event_types": ["webhook.test"]}, "webhook.unknown_event_type"),
        ({"url": PUBLIC_URL, "event_types": ["opportunity.won"], "created_by_id": 1}, None),
    ]:
        assert_problem(await client.post(URL, json=body, headers=admin.headers), 422, code)
    assert await count_rows(app, WebhookSubscription) == 0


async def test_private_hosts_pass_when_the_setting_allows_them(client, actors, private_hosts_allowed):
    admin = await actors.make("admin")
    assert (await create_webhook(client, admin, url=RECEIVER))["url"] == RECEIVER


async def test_update_events_url_and_active_flag_with_if_match(client, actors):
    admin = await actors.make("admin")
    created = await create_webhook(client, admin, url=PUBLIC_URL)
    path = f"{URL}/{created['id']}"
    etag = (await client.get(path, headers=admin.headers)).headers["ETag"]

    changed = await client.patch(
        path,
        json={"event_types": ["opportunity.lost", "opportunity.won"], "active": False},
        headers=admin.headers | {"If-Match": etag},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["event_types"] == ["opportunity.lost", "opportunity.won"] and changed.json()["active"] is False
    stale = await client.patch(path, json={"active": True}, headers=admin.headers | {"If-Match": etag})
    assert_problem(stale, 412, "precondition.etag_mismatch")

    assert_problem(
        await client.patch(path, json={"url": "http://10.0.0.8/x"}, headers=admin.headers), 422, "webhook.url_not_allowed"
    )
    assert_problem(await client.patch(path, json={"event_types": None}, headers=admin.headers), 422)
    assert_problem(
        await client.patch(path, json={"event_types": ["nope"]}, headers=admin.headers), 422, "webhook.unknown_event_type"
    )
    read = (await client.get(path, headers=admin.headers)).json()
    assert read["url"] == PUBLIC_URL and read["active"] is False
    assert read["event_types"] == ["opportunity.lost", "opportunity.won"]


async def test_delete_removes_the_subscription(app, client, actors):
    admin = await actors.make("admin")
    created = await create_webhook(client, admin, url=PUBLIC_URL)
    assert (await client.post(f"{URL}/{created['id']}/test", headers=admin.headers)).status_code == 202
    assert (await client.delete(f"{URL}/{created['id']}", headers=admin.headers)).status_code == 204
    assert_problem(await client.get(f"{URL}/{created['id']}", headers=admin.headers), 404)
    assert await deliveries(app) == []
    assert len(await outbox(app, "webhook.test")) == 1  # the outbox is history: it keeps the event


async def test_test_queues_one_delivery_for_this_subscription_only(app, client, actors, frozen_clock):
    admin = await actors.make("admin")
    target = await create_webhook(client, admin, url=PUBLIC_URL)
    await create_webhook(client, admin, url=PUBLIC_URL)
    queued = await client.post(f"{URL}/{target['id']}/test", headers=admin.headers)
    assert queued.status_code == 202, queued.text
    body = queued.json()
    assert body["subscription_id"] == target["id"] and body["event_type"] == "webhook.test"
    assert (
        body["status"] == "pending"
        and body["attempts"] == 0
        and body["next_attempt_at"] == frozen_clock.isoformat().replace("+00:00", "Z")
    )
    [event] = await outbox(app, "webhook.test")
    assert event.dispatched_at is not None and event.payload["webhook_id"] == target["id"]
    assert [d.subscription_id for d in await deliveries(app)] == [target["id"]]

    log = await client.get(f"{URL}/{target['id']}/deliveries", headers=admin.headers)
    assert [d["id"] for d in log.json()["items"]] == [body["id"]]


async def test_an_inactive_webhook_cannot_be_tested(client, actors):
    admin = await actors.make("admin")
    created = await create_webhook(client, admin, url=PUBLIC_URL, active=False)
    assert_problem(await client.post(f"{URL}/{created['id']}/test", headers=admin.headers), 409, "webhook.inactive")


async def test_delivery_log_is_paged_newest_first_and_filtered_by_status(client, actors):
    admin = await actors.make("admin")
    created = await create_webhook(client, admin, url=PUBLIC_URL)
    ids = [(await client.post(f"{URL}/{created['id']}/test", headers=admin.headers)).json()["id"] for _ in range(3)]
    first = (await client.get(f"{URL}/{created['id']}/deliveries?limit=2", headers=admin.headers)).json()
    assert [d["id"] for d in first["items"]] == [ids[2], ids[1]] and first["next_cursor"]
    second = (
        await client.get(f"{URL}/{created['id']}/deliveries?limit=2&cursor={first['next_cursor']}", headers=admin.headers)
    ).json()
    assert [d["id"] for d in second["items"]] == [ids[0]] and second["next_cursor"] is None
    none_dead = await client.get(f"{URL}/{created['id']}/deliveries?status=dead", headers=admin.headers)
    assert none_dead.json()["items"] == []
    assert_problem(await client.get(f"{URL}/{created['id']}/deliveries?status=lost", headers=admin.headers), 422)
