from collections import Counter

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from crm_api.core.clock import clock
from crm_api.marketing.campaigns import assign_variant
from crm_api.models.marketing import Campaign, CampaignTouch, CampaignVariant
from tests.factories import assert_problem
from tests.marketing.factories import (
    CAMPAIGNS,
    act,
    campaign_body,
    create_campaign,
    create_segment,
    make_contact,
    make_customer,
    running_campaign,
    touch,
)
from tests.sales.factories import integrator_key

EVERY_ACTION = ["edit", "add_variant", "schedule", "cancel"]


async def test_campaign_permissions(client, actors):
    marketer = await actors.make("marketer")
    manager = await actors.make("account_manager")
    executive = await actors.make("executive")
    assert_problem(await client.post(CAMPAIGNS, json=campaign_body()), 401)
    assert_problem(await client.post(CAMPAIGNS, json=campaign_body(), headers=manager.headers), 403)
    assert_problem(await client.post(CAMPAIGNS, json=campaign_body(), headers=executive.headers), 403)
    campaign = await create_campaign(client, marketer)
    url = f"{CAMPAIGNS}/{campaign['id']}"
    for path in (CAMPAIGNS, url, f"{url}/audience", f"{url}/performance"):
        assert_problem(await client.get(path, headers=manager.headers), 403, "auth.missing_permission")
        assert (await client.get(path, headers=marketer.headers)).status_code == 200
    # Executives read, with no buttons to press.
    read = await client.get(url, headers=executive.headers)
    assert read.status_code == 200 and read.json()["allowed_actions"] == []
    assert_problem(await act(client, executive, campaign["id"], "cancel"), 403)
    assert_problem(await client.get(f"{CAMPAIGNS}/999999", headers=marketer.headers), 404, "campaign.not_found")
    assert_problem(await act(client, marketer, 999999, "start"), 404, "campaign.not_found")


async def test_create_refuses_bad_input_and_writes_nothing(app, client, actors):
    marketer = await actors.make("marketer")
    for body in (
        campaign_body(status="running"),
        campaign_body(channel="fax"),
        campaign_body(budget="-1"),
        campaign_body(budget="10.001"),
        campaign_body(starts_on="2026-07-01", ends_on="2026-06-01"),
        campaign_body(segment_id=999999),
    ):
        assert_problem(await client.post(CAMPAIGNS, json=body, headers=marketer.headers), 422)
    async with app.state.db.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Campaign)) == 0


async def test_status_machine_with_codes_and_allowed_actions(client, actors):
    marketer = await actors.make("marketer")
    segment = await create_segment(client, marketer)
    campaign = await create_campaign(client, marketer)
    cid = campaign["id"]
    assert campaign["status"] == "draft" and campaign["allowed_actions"] == ["edit", "add_variant", "cancel"]
    assert_problem(await act(client, marketer, cid, "schedule"), 409, "campaign.no_audience")
    assert_problem(await act(client, marketer, cid, "start"), 409, "campaign.not_scheduled")
    assert_problem(await act(client, marketer, cid, "finish"), 409, "campaign.not_running")
    assert_problem(await act(client, marketer, cid, "publish"), 422)

    edited = await client.patch(
        f"{CAMPAIGNS}/{cid}", json={"segment_id": segment["id"], "budget": "1500.5"}, headers=marketer.headers
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["budget"] == "1500.50" and edited.json()["allowed_actions"] == EVERY_ACTION
    assert_problem(
        await client.patch(f"{CAMPAIGNS}/{cid}", json={"ends_on": "2026-05-01"}, headers=marketer.headers),
        422,
        "campaign.period_reversed",
    )
    assert_problem(await client.patch(f"{CAMPAIGNS}/{cid}", json={"status": "done"}, headers=marketer.headers), 422)

    scheduled = await act(client, marketer, cid, "schedule")
    assert scheduled.json()["status"] == "scheduled" and scheduled.json()["allowed_actions"] == ["start", "cancel"]
    assert_problem(
        await client.patch(f"{CAMPAIGNS}/{cid}", json={"name": "x"}, headers=marketer.headers), 409, "campaign.not_draft"
    )
    assert_problem(await act(client, marketer, cid, "schedule"), 409, "campaign.not_draft")
    running = await act(client, marketer, cid, "start")
    assert running.json()["status"] == "running" and running.json()["allowed_actions"] == ["finish"]
    assert_problem(await act(client, marketer, cid, "cancel"), 409, "campaign.not_cancellable")
    done = await act(client, marketer, cid, "finish")
    assert done.json()["status"] == "done" and done.json()["allowed_actions"] == []
    for action in ("schedule", "start", "finish", "cancel"):
        assert (await act(client, marketer, cid, action)).status_code == 409

    draft = await create_campaign(client, marketer)
    cancelled = await act(client, marketer, draft["id"], "cancel")
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["allowed_actions"] == []
    listed = await client.get(CAMPAIGNS, params={"status": "cancelled"}, headers=marketer.headers)
    assert [c["id"] for c in listed.json()["items"]] == [draft["id"]]


async def test_variants_only_on_drafts(client, actors):
    marketer = await actors.make("marketer")
    segment = await create_segment(client, marketer)
    campaign = await create_campaign(client, marketer, segment_id=segment["id"])
    url = f"{CAMPAIGNS}/{campaign['id']}/variants"
    variant = {"name": "A", "subject": "夏季特惠", "body": "全场九折", "weight": 3}
    created = await client.post(url, json=variant, headers=marketer.headers)
    assert created.status_code == 201, created.text
    assert created.json()["weight"] == 3
    assert_problem(await client.post(url, json=variant, headers=marketer.headers), 409, "campaign_variant.name_taken")
    assert_problem(await client.post(url, json=variant | {"weight": 0, "name": "B"}, headers=marketer.headers), 422)
    read = await client.get(f"{CAMPAIGNS}/{campaign['id']}", headers=marketer.headers)
    assert [v["name"] for v in read.json()["variants"]] == ["A"]
    await act(client, marketer, campaign["id"], "schedule")
    assert_problem(await client.post(url, json=variant | {"name": "B"}, headers=marketer.headers), 409, "campaign.not_draft")


async def test_audience_is_consenting_contacts_of_the_segment(app, client, actors):
    marketer = await actors.make("marketer")
    owner = await actors.make("account_manager")
    inside = await make_customer(app, owner.id, region="shanghai")
    other_inside = await make_customer(app, owner.id, region="shanghai")
    outside = await make_customer(app, owner.id, region="beijing")
    yes = [await make_contact(app, inside), await make_contact(app, other_inside)]
    await make_contact(app, inside, consent=False)
    await make_contact(app, other_inside, consent=False)
    await make_contact(app, outside)
    segment = await create_segment(client, marketer, region="shanghai")
    campaign = await create_campaign(client, marketer, segment_id=segment["id"])

    response = await client.get(f"{CAMPAIGNS}/{campaign['id']}/audience", params={"with_total": "true"}, headers=marketer.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert sorted(member["contact_id"] for member in body["items"]) == sorted(yes)
    assert body["total"] == 2 and body["excluded_without_consent"] == 2
    assert all(member["variant_id"] is None for member in body["items"])

    without = await create_campaign(client, marketer)
    empty = await client.get(f"{CAMPAIGNS}/{without['id']}/audience", headers=marketer.headers)
    assert empty.json()["items"] == [] and empty.json()["excluded_without_consent"] == 0


def _variants(*weights: int) -> list[CampaignVariant]:
    return [CampaignVariant(id=i + 1, campaign_id=7, name=str(i), subject="s", body="b", weight=w) for i, w in enumerate(weights)]


def test_variant_assignment_is_deterministic_and_follows_the_weights():
    variants = _variants(1, 3)
    first = [assign_variant(7, contact_id, variants).id for contact_id in range(1, 4001)]  # type: ignore[union-attr]
    again = [assign_variant(7, contact_id, list(reversed(variants))).id for contact_id in range(1, 4001)]  # type: ignore[union-attr]
    assert first == again
    split = Counter(first)
    assert 900 <= split[1] <= 1100 and 2900 <= split[2] <= 3100
    # Another campaign shuffles contacts differently.
    other = [assign_variant(8, contact_id, variants).id for contact_id in range(1, 4001)]  # type: ignore[union-attr]
    assert other != first
    assert assign_variant(7, 1, []) is None


async def test_audience_shows_each_contacts_assigned_variant(app, client, actors):
    marketer = await actors.make("marketer")
    owner = await actors.make("account_manager")
    customer = await make_customer(app, owner.id, region="guangdong")
    contacts = [await make_contact(app, customer) for _ in range(6)]
    segment = await create_segment(client, marketer, region="guangdong")
    campaign = await create_campaign(client, marketer, segment_id=segment["id"])
    for name, weight in (("A", 1), ("B", 1)):
        await client.post(
            f"{CAMPAIGNS}/{campaign['id']}/variants",
            json={"name": name, "subject": name, "body": name, "weight": weight},
            headers=marketer.headers,
        )
    async with app.state.db.sessionmaker() as session:
        variants = list(await session.scalars(select(CampaignVariant).order_by(CampaignVariant.id)))
    response = await client.get(f"{CAMPAIGNS}/{campaign['id']}/audience", headers=marketer.headers)
    shown = {member["contact_id"]: member["variant_id"] for member in response.json()["items"]}
    assert shown == {c: assign_variant(campaign["id"], c, variants).id for c in contacts}  # type: ignore[union-attr]


async def _touch_count(app) -> int:
    async with app.state.db.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(CampaignTouch))


async def test_touches_are_idempotent_except_conversions(app, client, actors):
    marketer = await actors.make("marketer")
    manager = await actors.make("account_manager")
    _, integrator = await integrator_key(client, actors)
    customer = await make_customer(app, manager.id)
    contact = await make_contact(app, customer)
    segment = await create_segment(client, marketer)
    draft = await create_campaign(client, marketer, segment_id=segment["id"])
    assert_problem(await touch(client, marketer.headers, draft["id"], contact), 409, "campaign.not_tracking")
    campaign = await running_campaign(client, marketer, segment["id"])
    cid = campaign["id"]

    assert_problem(await touch(client, {}, cid, contact), 401)
    assert_problem(await touch(client, manager.headers, cid, contact), 403)
    sent = await touch(client, integrator, cid, contact)
    assert sent.status_code == 201, sent.text
    repeat = await touch(client, marketer.headers, cid, contact)
    assert repeat.status_code == 200 and repeat.json()["id"] == sent.json()["id"]
    assert (await touch(client, integrator, cid, contact, "opened")).status_code == 201
    assert (await touch(client, integrator, cid, contact, "opened")).status_code == 200
    assert (await touch(client, integrator, cid, contact, "converted")).status_code == 201
    assert (await touch(client, integrator, cid, contact, "converted")).status_code == 201
    assert await _touch_count(app) == 4

    assert_problem(await touch(client, integrator, cid, 999999), 422, "touch.unknown_contact")
    assert_problem(await touch(client, integrator, cid, contact, "clicked", variant_id=999999), 422, "touch.unknown_variant")
    assert_problem(await touch(client, integrator, cid, contact, "bounced"), 422)
    assert_problem(await touch(client, integrator, 999999, contact), 404)
    assert await _touch_count(app) == 4
    done = await act(client, marketer, cid, "finish")
    assert done.status_code == 200
    assert (await touch(client, integrator, cid, contact, "clicked")).status_code == 201


async def test_performance_per_variant_with_rates(app, client, actors):
    marketer = await actors.make("marketer")
    owner = await actors.make("account_manager")
    customer = await make_customer(app, owner.id)
    contacts = [await make_contact(app, customer) for _ in range(4)]
    segment = await create_segment(client, marketer)
    campaign = await create_campaign(client, marketer, segment_id=segment["id"])
    cid = campaign["id"]
    ids = []
    for name in ("A", "B"):
        response = await client.post(
            f"{CAMPAIGNS}/{cid}/variants", json={"name": name, "subject": name, "body": name}, headers=marketer.headers
        )
        ids.append(response.json()["id"])
    for action in ("schedule", "start"):
        await act(client, marketer, cid, action)
    a, b = ids
    plan = [  # variant A: 3 sent, 2 opened, 1 clicked, 1 converted; B: 1 sent, nothing else
        (contacts[0], a, "sent"),
        (contacts[1], a, "sent"),
        (contacts[2], a, "sent"),
        (contacts[3], b, "sent"),
        (contacts[0], a, "opened"),
        (contacts[1], a, "opened"),
        (contacts[0], a, "clicked"),
        (contacts[0], a, "converted"),
        (contacts[0], a, "converted"),
    ]
    for contact, variant, kind in plan:
        response = await touch(client, marketer.headers, cid, contact, kind, variant_id=variant)
        assert response.status_code == 201, response.text

    response = await client.get(f"{CAMPAIGNS}/{cid}/performance", headers=marketer.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    by_name = {row["variant_name"]: row for row in body["variants"]}
    assert (by_name["A"]["sent"], by_name["A"]["opened"], by_name["A"]["clicked"], by_name["A"]["converted"]) == (3, 2, 1, 1)
    assert (by_name["A"]["open_rate"], by_name["A"]["click_rate"], by_name["A"]["conversion_rate"]) == (
        "0.6667",
        "0.3333",
        "0.3333",
    )
    assert (by_name["B"]["sent"], by_name["B"]["open_rate"]) == (1, "0.0000")
    assert (body["total"]["sent"], body["total"]["opened"], body["total"]["open_rate"]) == (4, 2, "0.5000")


async def test_transitions_and_touches_are_audited(app, client, actors):
    marketer = await actors.make("marketer")
    admin = await actors.make("admin")
    customer = await make_customer(app, marketer.id)
    contact = await make_contact(app, customer)
    segment = await create_segment(client, marketer)
    campaign = await running_campaign(client, marketer, segment["id"])
    await touch(client, marketer.headers, campaign["id"], contact)
    await touch(client, marketer.headers, campaign["id"], contact)  # a replay records nothing new
    events = await client.get(
        "/api/v1/audit-events", params={"entity_type": "campaign", "entity_id": campaign["id"]}, headers=admin.headers
    )
    actions = [(e["action"], e["changes"].get("status")) for e in reversed(events.json()["items"])]
    assert actions == [
        ("create", {"before": None, "after": "draft"}),
        ("schedule", {"before": "draft", "after": "scheduled"}),
        ("start", {"before": "scheduled", "after": "running"}),
    ]
    touches = await client.get("/api/v1/audit-events", params={"entity_type": "campaign_touch"}, headers=admin.headers)
    assert [e["action"] for e in touches.json()["items"]] == ["create"]


async def test_the_database_keeps_one_sent_per_contact_under_concurrent_tracking(app, client, actors):
    """The service checks before it inserts; the partial unique index settles two trackers racing past the check."""
    marketer = await actors.make("marketer")
    contact = await make_contact(app, await make_customer(app, marketer.id))
    campaign = await running_campaign(client, marketer, (await create_segment(client, marketer))["id"])

    def touch_row(kind: str) -> CampaignTouch:
        now = clock.now()
        return CampaignTouch(
            campaign_id=campaign["id"], contact_id=contact, kind=kind, occurred_at=now, occurred_on=now.date(), created_at=now
        )

    async with app.state.db.sessionmaker() as session, session.begin():
        session.add_all([touch_row("converted"), touch_row("converted")])
    async with app.state.db.sessionmaker() as session:
        session.add_all([touch_row("sent"), touch_row("sent")])
        with pytest.raises(IntegrityError):
            await session.flush()
