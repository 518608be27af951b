from tests.factories import assert_problem
from tests.leads.factories import API, RULES, create_assignment_rule, create_lead

SCORING = "/api/v1/lead-scoring-rules"
SCORING_RULES = [
    {"criterion": "field_present", "value": "email", "points": 10},
    {"criterion": "source", "value": "referral", "points": 30},
    {"criterion": "region", "value": "zhejiang", "points": 20},
    {"criterion": "industry", "value": "it", "points": 15},
    {"criterion": "activity_count", "value": "2", "points": 40},
]


async def test_scoring_rules_are_admin_only_and_validated(client, actors):
    admin = await actors.make("admin")
    marketer = await actors.make("marketer")
    assert_problem(await client.put(SCORING, json={"rules": SCORING_RULES}, headers=marketer.headers), 403)
    for bad in (
        {"criterion": "field_present", "value": "password", "points": 5},
        {"criterion": "activity_count", "value": "many", "points": 5},
        {"criterion": "region", "value": "atlantis", "points": 5},
        {"criterion": "mood", "value": "x", "points": 5},
        {"criterion": "source", "value": "website", "points": 500},
    ):
        assert_problem(await client.put(SCORING, json={"rules": [bad]}, headers=admin.headers), 422)
    assert (await client.get(SCORING, headers=marketer.headers)).json() == []
    saved = await client.put(SCORING, json={"rules": SCORING_RULES}, headers=admin.headers)
    assert saved.status_code == 200
    assert [(r["criterion"], r["points"]) for r in (await client.get(SCORING, headers=marketer.headers)).json()] == [
        (r["criterion"], r["points"]) for r in SCORING_RULES
    ]


async def test_score_is_recomputed_on_every_change_and_explained(client, actors):
    admin = await actors.make("admin")
    marketer = await actors.make("marketer")
    await client.put(SCORING, json={"rules": SCORING_RULES}, headers=admin.headers)
    lead = await create_lead(client, marketer, source="website")
    assert lead["score"] == 45  # email 10 + zhejiang 20 + it 15
    assert {(r["criterion"], r["value"]) for r in lead["score_reasons"]} == {
        ("field_present", "email"),
        ("region", "zhejiang"),
        ("industry", "it"),
    }
    url = f"{API}/{lead['id']}"
    changed = await client.patch(url, json={"source": "referral", "email": None}, headers=marketer.headers)
    assert changed.json()["score"] == 65  # referral 30, no email any more
    for kind in ("call", "email_opened"):
        await client.post(f"{url}/activities", json={"kind": kind}, headers=marketer.headers)
    after = (await client.get(url, headers=marketer.headers)).json()
    assert after["score"] == 100  # 105 capped
    assert ("activity_count", "2", 40) in {(r["criterion"], r["value"], r["points"]) for r in after["score_reasons"]}
    # New rules rescore open leads at once.
    await client.put(
        SCORING, json={"rules": [{"criterion": "source", "value": "referral", "points": -10}]}, headers=admin.headers
    )
    assert (await client.get(url, headers=marketer.headers)).json()["score"] == 0


async def test_assignment_rules_are_admin_only(client, actors):
    admin = await actors.make("admin")
    supervisor = await actors.make("sales_supervisor", team="east")
    body = {"name": "east", "team_id": supervisor.team_id}
    assert_problem(await client.post(RULES, json=body, headers=supervisor.headers), 403, "auth.missing_permission")
    assert_problem(
        await client.post(RULES, json={"name": "both", "team_id": 1, "user_id": supervisor.id}, headers=admin.headers), 422
    )
    assert_problem(await client.post(RULES, json={"name": "none"}, headers=admin.headers), 422)
    assert_problem(
        await client.post(RULES, json={"name": "t", "team_id": 999999}, headers=admin.headers),
        422,
        "assignment_rule.invalid_team",
    )
    rule = await create_assignment_rule(client, admin, **body)
    assert (await client.get(RULES, headers=supervisor.headers)).json()["items"][0]["id"] == rule["id"]
    renamed = await client.patch(f"{RULES}/{rule['id']}", json={"priority": 5}, headers=admin.headers)
    assert renamed.json()["priority"] == 5
    assert_problem(await client.patch(f"{RULES}/{rule['id']}", json={"priority": 1}, headers=supervisor.headers), 403)
    assert (await client.delete(f"{RULES}/{rule['id']}", headers=admin.headers)).status_code == 204
    assert_problem(await client.delete(f"{RULES}/{rule['id']}", headers=admin.headers), 404, "assignment_rule.not_found")


async def test_rules_apply_in_priority_order_and_round_robin_inside_a_team(client, actors):
    admin = await actors.make("admin")
    marketer = await actors.make("marketer")
    first = await actors.make("account_manager", team="east")
    second = await actors.make("account_manager", team="east")
    await actors.make("account_manager", team="east", active=False)
    await actors.make("sales_supervisor", team="east")
    specialist = await actors.make("account_manager", team="south")
    team_rule = await create_assignment_rule(
        client, admin, name="zhejiang", region="zhejiang", priority=20, team_id=first.team_id
    )
    it_rule = await create_assignment_rule(
        client,
        admin,
        name="zhejiang it referrals",
        region="zhejiang",
        industry="it",
        source="referral",
        priority=10,
        user_id=specialist.id,
    )
    owners = []
    for index in range(5):
        lead = await create_lead(client, marketer, phone=None, email=f"l{index}@x.example")
        assert lead["assignment_rule_id"] == team_rule["id"]
        owners.append(lead["owner_id"])
    assert owners == [first.id, second.id, first.id, second.id, first.id]
    rules = (await client.get(RULES, headers=admin.headers)).json()["items"]
    assert next(r for r in rules if r["id"] == team_rule["id"])["last_assigned_user_id"] == first.id

    referral = await create_lead(client, marketer, phone=None, email="ref@x.example", source="referral")
    assert (referral["owner_id"], referral["assignment_rule_id"]) == (specialist.id, it_rule["id"])
    elsewhere = await create_lead(client, marketer, phone=None, email="bj@x.example", region="beijing")
    assert (elsewhere["owner_id"], elsewhere["assignment_rule_id"]) == (marketer.id, None)
    # A disabled rule is skipped.
    await client.patch(f"{RULES}/{team_rule['id']}", json={"active": False}, headers=admin.headers)
    unmatched = await create_lead(client, marketer, phone=None, email="z@x.example")
    assert unmatched["owner_id"] == marketer.id
    listed = await client.get(API, params={"owner_id": first.id}, headers=marketer.headers)
    assert len(listed.json()["items"]) == 3
