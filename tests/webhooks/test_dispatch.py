"""The dispatcher: fan-out, signed sends outside the claiming transaction, backoff, dead letters."""

import asyncio
import hashlib
import hmac
import json
from datetime import timedelta

import httpx
import pytest
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select

from crm_api.core.clock import clock
from crm_api.core.outbox import BACKOFF, CLAIM_LEASE, MAX_ATTEMPTS, publish
from crm_api.core.scheduler import JOBS, run_job
from crm_api.models.platform import JobRun
from crm_api.models.webhook import WebhookDelivery
from crm_api.webhooks import service as webhook_service
from crm_api.webhooks.jobs import WEBHOOK_DISPATCH, dispatch
from tests.factories import assert_problem
from tests.webhooks.factories import URL, create_webhook, deliveries, outbox

pytestmark = pytest.mark.usefixtures("private_hosts_allowed")


class Receiver:
    """Stands in for the subscriber's server: records requests and answers with the next status."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses) or [200]
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return httpx.Response(status, json={"ok": 200 <= status < 300})

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def verify(secret: str, request: httpx.Request) -> dict:
    """What a subscriber does: recompute the HMAC of "{t}.{raw body}" and compare in constant time."""
    parts = dict(item.split("=", 1) for item in request.headers["X-CRM-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + request.content, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, parts["v1"]), "bad signature"
    return {"t": int(parts["t"]), "body": json.loads(request.content)}


async def _publish(app, event_type: str = "opportunity.won", entity_id: int = 7, **payload) -> None:
    async with app.state.db.sessionmaker() as session, session.begin():
        await publish(
            session, event_type=event_type, entity_type="opportunity", entity_id=entity_id, payload=payload or {"id": entity_id}
        )


async def _dispatch(app, receiver: Receiver) -> dict:
    return await dispatch(app.state.db.sessionmaker, app.state.settings, transport=receiver.transport)


async def test_an_event_is_delivered_signed_to_its_subscriber(app, client, actors, frozen_clock):
    admin = await actors.make("admin")
    webhook = await create_webhook(client, admin, event_types=["opportunity.won"])
    await _publish(app, amount="120000.00")
    receiver = Receiver(204)

    counts = await _dispatch(app, receiver)

    assert counts == {"events": 1, "sent": 1, "succeeded": 1}
    [request] = receiver.requests
    assert str(request.url) == webhook["url"] and request.method == "POST"
    signed = verify(webhook["secret"], request)
    assert signed["t"] == int(frozen_clock.timestamp())
    [event] = await outbox(app)
    [delivery] = await deliveries(app)
    assert signed["body"] == {
        "id": event.id,
        "type": "opportunity.won",
        "occurred_at": frozen_clock.isoformat(),
        "data": {"amount": "120000.00"},
    }
    assert request.headers["X-CRM-Event"] == "opportunity.won" and request.headers["X-CRM-Delivery"] == str(delivery.id)
    assert request.headers["Content-Type"] == "application/json"
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 1, 204)
    assert delivery.delivered_at == frozen_clock and delivery.next_attempt_at is None and delivery.last_response_ms >= 0
    assert event.dispatched_at == frozen_clock

    assert await _dispatch(app, receiver) == {"events": 0, "sent": 0, "succeeded": 0}
    assert len(receiver.requests) == 1


async def test_a_wrong_secret_does_not_verify(app, client, actors):
    admin = await actors.make("admin")
    await create_webhook(client, admin)
    await _publish(app)
    receiver = Receiver()
    await _dispatch(app, receiver)
    with pytest.raises(AssertionError, match="bad signature"):
        verify("some-other-secret-entirely", receiver.requests[0])


async def test_inactive_and_non_matching_subscriptions_get_nothing(app, client, actors):
    admin = await actors.make("admin")
    wanted = await create_webhook(client, admin, event_types=["opportunity.won", "opportunity.lost"])
    await create_webhook(client, admin, event_types=["ticket.archived"])
    await create_webhook(client, admin, event_types=["opportunity.won"], active=False)
    await _publish(app, "opportunity.won", 1)
    await _publish(app, "opportunity.lost", 2)
    await _publish(app, "customer.created", 3)
    receiver = Receiver()

    assert await _dispatch(app, receiver) == {"events": 3, "sent": 2, "succeeded": 2}
    assert [d.subscription_id for d in await deliveries(app)] == [wanted["id"], wanted["id"]]
    assert sorted(r.headers["X-CRM-Event"] for r in receiver.requests) == ["opportunity.lost", "opportunity.won"]
    assert all(e.dispatched_at is not None for e in await outbox(app))


async def test_a_failure_is_retried_after_the_backoff(app, client, actors, frozen_clock):
    admin = await actors.make("admin")
    webhook = await create_webhook(client, admin)
    await _publish(app)
    receiver = Receiver(500, 200)

    assert (await _dispatch(app, receiver))["succeeded"] == 0
    [delivery] = await deliveries(app)
    assert (delivery.status, delivery.attempts, delivery.last_status_code, delivery.last_error) == ("failed", 1, 500, "HTTP 500")
    assert delivery.next_attempt_at == frozen_clock + timedelta(minutes=1)

    clock.advance(timedelta(seconds=59))
    assert (await _dispatch(app, receiver))["sent"] == 0  # not due yet
    clock.advance(timedelta(seconds=1))
    assert (await _dispatch(app, receiver))["succeeded"] == 1
    [delivery] = await deliveries(app)
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("succeeded", 2, None)
    assert [r.headers["X-CRM-Delivery"] for r in receiver.requests] == [str(delivery.id)] * 2

    log = (await client.get(f"{URL}/{webhook['id']}/deliveries", headers=admin.headers)).json()["items"]
    assert [(d["status"], d["attempts"], d["last_status_code"]) for d in log] == [("succeeded", 2, 200)]


async def test_after_six_failures_the_delivery_is_dead(app, client, actors, frozen_clock):
    admin = await actors.make("admin")
    await create_webhook(client, admin)
    await _publish(app)
    receiver = Receiver(503)
    waits = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert (await _dispatch(app, receiver))["sent"] == 1
        [delivery] = await deliveries(app)
        assert delivery.attempts == attempt
        if attempt < MAX_ATTEMPTS:
            assert delivery.status == "failed"
            waits.append(delivery.next_attempt_at - clock.now())
            clock.advance(delivery.next_attempt_at - clock.now())
    assert (
        waits
        == list(BACKOFF)
        == [
            timedelta(minutes=1),
            timedelta(minutes=5),
            timedelta(minutes=30),
            timedelta(hours=2),
            timedelta(hours=12),
        ]
    )
    assert (delivery.status, delivery.next_attempt_at, delivery.last_status_code) == ("dead", None, 503)
    clock.advance(timedelta(days=30))
    assert (await _dispatch(app, receiver))["sent"] == 0
    assert len(receiver.requests) == MAX_ATTEMPTS


async def _until_dead(app) -> None:
    for _ in range(MAX_ATTEMPTS):
        await _dispatch(app, Receiver(500))
        [delivery] = await deliveries(app)
        if delivery.next_attempt_at is not None:
            clock.advance(delivery.next_attempt_at - clock.now())


async def test_a_dead_delivery_retried_by_hand_gets_one_more_attempt(app, client, actors, frozen_clock):
    admin = await actors.make("admin")
    await create_webhook(client, admin)
    await _publish(app)
    await _until_dead(app)
    [delivery] = await deliveries(app)
    assert delivery.status == "dead"
    admin.headers = actors.headers_for(admin.id)  # the clock moved past the token's life

    retried = await client.post(f"{URL}/deliveries/{delivery.id}/retry", headers=admin.headers)
    assert retried.status_code == 200, retried.text
    assert (retried.json()["status"], retried.json()["attempts"]) == ("pending", MAX_ATTEMPTS)
    assert (await _dispatch(app, Receiver(500)))["sent"] == 1
    [delivery] = await deliveries(app)
    assert (delivery.status, delivery.attempts) == ("dead", MAX_ATTEMPTS + 1)

    assert (await client.post(f"{URL}/deliveries/{delivery.id}/retry", headers=admin.headers)).status_code == 200
    assert (await _dispatch(app, Receiver(200)))["succeeded"] == 1
    assert_problem(
        await client.post(f"{URL}/deliveries/{delivery.id}/retry", headers=admin.headers), 409, "webhook_delivery.succeeded"
    )


async def test_a_network_error_is_a_failed_attempt(app, client, actors, frozen_clock):
    admin = await actors.make("admin")
    await create_webhook(client, admin)
    await _publish(app)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    await dispatch(app.state.db.sessionmaker, app.state.settings, transport=httpx.MockTransport(refuse))
    [delivery] = await deliveries(app)
    assert (delivery.status, delivery.last_status_code) == ("failed", None)
    assert delivery.last_error.startswith("ConnectError") and delivery.next_attempt_at == frozen_clock + BACKOFF[0]


async def test_deliveries_of_a_deactivated_subscription_wait_for_it(app, client, actors, frozen_clock):
    admin = await actors.make("admin")
    webhook = await create_webhook(client, admin)
    await _publish(app)
    await _dispatch(app, Receiver(500))
    assert (await client.patch(f"{URL}/{webhook['id']}", json={"active": False}, headers=admin.headers)).status_code == 200
    clock.advance(timedelta(hours=1))
    receiver = Receiver()
    assert (await _dispatch(app, receiver))["sent"] == 0
    [delivery] = await deliveries(app)
    assert (delivery.status, delivery.attempts) == ("failed", 1)

    reactivated = await client.patch(f"{URL}/{webhook['id']}", json={"active": True}, headers=actors.headers_for(admin.id))
    assert reactivated.status_code == 200
    assert (await _dispatch(app, receiver))["succeeded"] == 1


async def test_a_host_name_resolving_to_a_private_address_is_refused_at_send(app, client, actors, monkeypatch):
    admin = await actors.make("admin")
    await create_webhook(client, admin, url="https://hooks.partner.example/crm")
    await _publish(app)
    monkeypatch.setattr(app.state.settings, "webhook_allow_private_hosts", False)

    async def resolve(host: str) -> list[str]:
        assert host == "hooks.partner.example"
        return ["93.184.216.34", "10.0.0.5"]

    monkeypatch.setattr(webhook_service, "resolve", resolve)
    receiver = Receiver()
    await _dispatch(app, receiver)
    assert receiver.requests == []
    [delivery] = await deliveries(app)
    assert delivery.status == "failed" and "10.0.0.5" in delivery.last_error and delivery.last_error.startswith("refused")


async def test_the_job_is_registered_every_minute_and_recorded(app, client, actors, settings):
    assert CronTrigger.from_crontab(JOBS[WEBHOOK_DISPATCH].cron(settings))  # parses
    assert JOBS[WEBHOOK_DISPATCH].cron(settings) == "* * * * *"
    admin = await actors.make("admin")
    await create_webhook(client, admin, url="http://127.0.0.1:9/unreachable")  # discard port: nothing listens
    await _publish(app)
    outcome = await run_job(app.state.db, app.state.settings, JOBS[WEBHOOK_DISPATCH])
    assert outcome.counts == {"events": 1, "sent": 1, "succeeded": 0}
    async with app.state.db.sessionmaker() as session:
        run = await session.scalar(select(JobRun).where(JobRun.job == WEBHOOK_DISPATCH))
    assert run.outcome == "succeeded"
    [delivery] = await deliveries(app)
    assert delivery.status == "failed" and delivery.last_error


async def test_delivery_over_a_real_socket(app, client, actors, frozen_clock):
    """A tiny HTTP server on 127.0.0.1 receives the POST; the dispatcher uses the real network stack."""
    received: list[tuple[dict[str, str], bytes]] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
        body = await reader.readexactly(int(headers["content-length"]))
        received.append((headers, body))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        admin = await actors.make("admin")
        webhook = await create_webhook(client, admin, url=f"http://127.0.0.1:{port}/hooks")
        queued = (await client.post(f"{URL}/{webhook['id']}/test", headers=admin.headers)).json()
        counts = await asyncio.wait_for(dispatch(app.state.db.sessionmaker, app.state.settings), timeout=10)
    finally:
        server.close()
        await server.wait_closed()

    assert counts["succeeded"] == 1
    [(headers, body)] = received
    assert headers["x-crm-event"] == "webhook.test" and headers["x-crm-delivery"] == str(queued["id"])
    request = httpx.Request("POST", "http://x", content=body, headers={"X-CRM-Signature": headers["x-crm-signature"]})
    signed = verify(webhook["secret"], request)
    assert signed["body"]["type"] == "webhook.test" and signed["body"]["data"]["webhook_id"] == webhook["id"]
    [delivery] = await deliveries(app)
    assert (delivery.status, delivery.last_status_code) == ("succeeded", 200)


async def test_the_claim_is_committed_before_the_http_call(app, client, actors, frozen_clock):
    """While the request is in flight, another session sees the lease: no transaction is held open around it."""
    admin = await actors.make("admin")
    await create_webhook(client, admin)
    await _publish(app)
    seen = []

    async def receive(request: httpx.Request) -> httpx.Response:
        async with app.state.db.sessionmaker() as session, session.begin():
            delivery = await session.get(WebhookDelivery, int(request.headers["X-CRM-Delivery"]))
            seen.append(delivery.next_attempt_at)
            delivery.last_error = "touched while in flight"  # a write would wait on a held lock
        return httpx.Response(200)

    await asyncio.wait_for(
        dispatch(app.state.db.sessionmaker, app.state.settings, transport=httpx.MockTransport(receive)), timeout=20
    )
    assert seen == [frozen_clock + CLAIM_LEASE]
    [delivery] = await deliveries(app)
    assert delivery.status == "succeeded" and delivery.last_error is None


async def test_concurrent_runs_send_each_delivery_once(app, client, actors):
    if app.state.db.dialect != "postgresql":
        pytest.skip("row locks exist on PostgreSQL only; SQLite serialises writers itself")
    admin = await actors.make("admin")
    await create_webhook(client, admin)
    for entity_id in range(30):
        await _publish(app, entity_id=entity_id)
    receiver = Receiver()
    settings = app.state.settings.model_copy(update={"webhook_batch_size": 20})
    runs = [dispatch(app.state.db.sessionmaker, settings, transport=receiver.transport) for _ in range(3)]
    await asyncio.wait_for(asyncio.gather(*runs), timeout=30)
    sent = [r.headers["X-CRM-Delivery"] for r in receiver.requests]
    assert len(sent) == len(set(sent)) >= 20
    await dispatch(app.state.db.sessionmaker, settings, transport=receiver.transport)  # whatever was left over
    sent = [r.headers["X-CRM-Delivery"] for r in receiver.requests]
    assert len(sent) == len(set(sent)) == 30
