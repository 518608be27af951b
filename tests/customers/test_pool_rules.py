"""The pool's rules beyond claim and release (SPEC §3.12): locks and their limit, per-user claim limits, the recycle
rules and the daily recycle job with its warnings, and the merge in the ownership history."""

from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from crm_api.core.clock import clock
from crm_api.models.collaboration import Task
from crm_api.models.sales import SHIPPED, Order
from tests.concurrency import RACERS, audited, published, race, skip_unless_postgresql, statuses
from tests.customers.factories import BASE, audit_of, make_customer, make_interaction, two_managers
from tests.customers.test_pool import POOL, history, pooled
from tests.factories import assert_problem

RULES = f"{POOL}/recycle-rules"
RUN = "/api/v1/jobs/pool_recycle/run"


async def lock(client, actor, customer_id, action="lock"):
    return await client.post(f"{BASE}/{customer_id}/{action}", headers=actor.headers)


# Locks


async def test_the_owner_locks_and_unlocks_a_customer_kept_in_its_history_and_audit(client, actors, app):
    owner = await actors.make("account_manager")
    customer = await make_customer(client, owner)

    response = await lock(client, owner, customer["id"])
    assert response.status_code == 200, response.text
    locked = response.json()
    assert locked["locked"] is True and locked["locked_at"] is not None and locked["owner_id"] == owner.id
    fetched = (await client.get(f"{BASE}/{customer['id']}", headers=owner.headers)).json()
    assert fetched["locked"] is True
    assert_problem(await lock(client, owner, customer["id"]), 409, "customer.already_locked")

    response = await lock(client, owner, customer["id"], "unlock")
    assert response.status_code == 200, response.text
    assert response.json()["locked"] is False and response.json()["locked_at"] is None
    assert_problem(await lock(client, owner, customer["id"], "unlock"), 409, "customer.not_locked")

    steps = await history(client, owner, customer["id"])
    assert [(s["action"], s["from_user_id"], s["to_user_id"], s["actor_id"]) for s in steps] == [
        ("create", None, owner.id, owner.id),
        ("lock", owner.id, owner.id, owner.id),
        ("unlock", owner.id, owner.id, owner.id),
    ]
    admin = await actors.make("admin")
    assert [e["action"] for e in await audit_of(client, admin, "customer", customer["id"])] == ["create", "lock", "unlock"]


async def test_lock_is_guarded(client, actors):
    owner, other = await two_managers(actors)
    customer = await make_customer(client, owner)
    assert_problem(await client.post(f"{BASE}/{customer['id']}/lock"), 401)
    executive = await actors.make("executive")
    assert_problem(await lock(client, executive, customer["id"]), 403, "auth.missing_permission")
    assert_problem(await lock(client, other, customer["id"]), 404, "customer.not_found")
    assert_problem(await lock(client, owner, 999999), 404, "customer.not_found")
    in_pool = await pooled(client, owner, name="公海公司")
    assert_problem(await lock(client, await actors.make("admin"), in_pool["id"]), 409, "customer.in_pool")


async def test_locks_stop_at_the_owners_limit_whoever_locks(client, actors, app, monkeypatch):
    monkeypatch.setattr(app.state.settings, "pool_lock_limit", 2)
    owner = await actors.make("account_manager", team="east")
    supervisor = await actors.make("sales_supervisor", team="east")
    first, second, third = [await make_customer(client, owner) for _ in range(3)]

    assert (await lock(client, owner, first["id"])).status_code == 200
    assert (await lock(client, supervisor, second["id"])).status_code == 200
    body = assert_problem(await lock(client, owner, third["id"]), 409, "customer.lock_limit")
    assert body["limit"] == 2
    assert_problem(await lock(client, supervisor, third["id"]), 409, "customer.lock_limit")
    # Releasing a locked customer ends its lock, which frees one.
    response = await client.post(f"{BASE}/{first['id']}/release", json={"reason": "不跟了"}, headers=owner.headers)
    assert response.status_code == 200 and response.json()["locked"] is False
    assert (await lock(client, owner, third["id"])).status_code == 200


async def test_a_transfer_one_by_one_or_in_bulk_ends_the_lock(client, actors):
    owner, successor = await two_managers(actors)
    supervisor = await actors.make("sales_supervisor", team="east")
    customer, other = await make_customer(client, owner), await make_customer(client, owner)
    for locked in (customer, other):
        assert (await lock(client, owner, locked["id"])).status_code == 200
    response = await client.post(f"{BASE}/{customer['id']}/transfer", json={"owner_id": successor.id}, headers=supervisor.headers)
    assert response.status_code == 200, response.text
    assert response.json()["locked"] is False
    body = {"ids": [other["id"]], "set": {"owner_id": successor.id}}
    assert (await client.post(f"{BASE}/bulk-update", json=body, headers=supervisor.headers)).status_code == 200
    moved = (await client.get(f"{BASE}/{other['id']}", headers=successor.headers)).json()
    assert (moved["owner_id"], moved["locked"]) == (successor.id, False)


@pytest.mark.parametrize("racers", [RACERS])
async def test_concurrent_locks_of_one_owner_stop_exactly_at_the_limit(client, actors, app, settings, monkeypatch, racers):
    skip_unless_postgresql(settings)
    monkeypatch.setattr(app.state.settings, "pool_lock_limit", 5)
    owner = await actors.make("account_manager")
    customers = [await make_customer(client, owner) for _ in range(racers)]

    responses = await race(lambda n: lock(client, owner, customers[n]["id"]), racers)

    assert statuses(responses) == {200: 5, 409: racers - 5}
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"customer.lock_limit"}
    assert await audited(app, "customer", "lock") == 5


# Per-user claim limits


async def test_an_admin_sets_a_users_own_claim_limit_which_claim_uses(client, actors):
    admin = await actors.make("admin")
    giver, claimant = await two_managers(actors)
    first, second = await pooled(client, giver, name="甲公司"), await pooled(client, giver, name="乙公司")
    url = f"/api/v1/users/{claimant.id}"

    assert_problem(await client.patch(url, json={"pool_claim_limit": 5}, headers=claimant.headers), 403)
    assert_problem(await client.patch(url, json={"pool_claim_limit": -1}, headers=admin.headers), 422)
    response = await client.patch(url, json={"pool_claim_limit": 1}, headers=admin.headers)
    assert response.status_code == 200, response.text
    assert response.json()["pool_claim_limit"] == 1

    assert (await client.post(f"{BASE}/{first['id']}/claim", headers=claimant.headers)).status_code == 200
    body = assert_problem(
        await client.post(f"{BASE}/{second['id']}/claim", headers=claimant.headers), 409, "customer.claim_limit"
    )
    assert body["limit"] == 1
    # Back to the setting (300).
    response = await client.patch(url, json={"pool_claim_limit": None}, headers=admin.headers)
    assert response.json()["pool_claim_limit"] is None
    assert (await client.post(f"{BASE}/{second['id']}/claim", headers=claimant.headers)).status_code == 200


# Recycle rules


DEFAULT_RULE = {"level": None, "no_interaction_days": 30, "warning_days": 3}
MAJOR_RULE = {"level": "major", "no_interaction_days": 60, "no_deal_days": 90, "warning_days": 0}


async def put_rules(client, admin, *rules):
    response = await client.put(RULES, json={"rules": list(rules)}, headers=admin.headers)
    assert response.status_code == 200, response.text
    return response.json()["rules"]


async def test_recycle_rules_are_admin_edited_and_everyone_who_reads_customers_sees_them(client, actors):
    admin, manager = await actors.make("admin"), await actors.make("account_manager")
    assert (await client.get(RULES, headers=manager.headers)).json() == {"rules": []}
    assert_problem(await client.put(RULES, json={"rules": []}), 401)
    assert_problem(await client.put(RULES, json={"rules": [DEFAULT_RULE]}, headers=manager.headers), 403)

    rules = await put_rules(client, admin, MAJOR_RULE, DEFAULT_RULE)

    expected = [
        {"level": None, "no_interaction_days": 30, "no_deal_days": None, "warning_days": 3},
        {"level": "major", "no_interaction_days": 60, "no_deal_days": 90, "warning_days": 0},
    ]
    listed = (await client.get(RULES, headers=manager.headers)).json()["rules"]
    for read in (rules, listed):
        assert sorted(({k: r[k] for k in expected[0]} for r in read), key=lambda r: r["level"] or "") == expected
        assert all(r["updated_by_id"] == admin.id for r in read)
    [event] = [
        e
        for e in (await client.get("/api/v1/audit-events", headers=admin.headers)).json()["items"]
        if e["entity_type"] == "customer_recycle_rules"
    ]
    assert event["action"] == "replace"


@pytest.mark.parametrize(
    "rules",
    [
        [{"level": "galactic", "no_interaction_days": 30}],  # not a customer_level value
        [{"level": None, "warning_days": 3}],  # no condition
        [DEFAULT_RULE, DEFAULT_RULE],  # two default rules
        [{"level": None, "no_interaction_days": 0}],
    ],
)
async def test_invalid_recycle_rules_are_422_and_keep_the_old_set(client, actors, rules):
    admin = await actors.make("admin")
    await put_rules(client, admin, DEFAULT_RULE)
    assert_problem(await client.put(RULES, json={"rules": rules}, headers=admin.headers), 422)
    assert len((await client.get(RULES, headers=admin.headers)).json()["rules"]) == 1


# The recycle job, on dates in the data; the clock stands at 2026-06-15 10:00 Shanghai.


async def warnings_of(app):
    async with app.state.db.sessionmaker() as session:
        return list((await session.scalars(select(Task).where(Task.kind == "recycle_warning").order_by(Task.id))).all())


async def test_the_job_is_listed_and_does_nothing_without_rules(client, actors, frozen_clock):
    admin = await actors.make("admin")
    jobs = {job["name"]: job["cron"] for job in (await client.get("/api/v1/jobs", headers=admin.headers)).json()}
    assert jobs["pool_recycle"] == "30 0 * * *"
    await make_customer(client, await actors.make("account_manager"))
    clock.advance(timedelta(days=100))
    admin_now = actors.headers_for(admin.id)
    response = await client.post(RUN, headers=admin_now)
    assert response.status_code == 200, response.text
    assert response.json()["counts"] == {"recycled": 0, "warned": 0}


async def test_neglected_customers_are_warned_then_recycled_once_and_locked_ones_stay(client, actors, app, frozen_clock):
    admin = await actors.make("admin")
    owner = await actors.make("account_manager")
    await put_rules(client, admin, DEFAULT_RULE, MAJOR_RULE)
    neglected = await make_customer(client, owner, level="regular")
    contacted = await make_customer(client, owner, level="regular")
    await make_interaction(client, owner, contacted["id"], occurred_on="2026-07-05")
    locked = await make_customer(client, owner, level="regular")
    assert (await lock(client, owner, locked["id"])).status_code == 200
    major = await make_customer(client, owner, level="major")  # its own rule: 60 days
    run = actors.headers_for

    # Day 28 (07-13): the neglected one is 3 days from the 30 without contact: its owner is warned, once.
    clock.advance(timedelta(days=28))
    for _ in range(2):
        response = await client.post(RUN, headers=run(admin.id))
        assert response.status_code == 200, response.text
    runs = (await client.get("/api/v1/jobs/runs", params={"job": "pool_recycle"}, headers=run(admin.id))).json()["items"]
    assert [r["counts"] for r in runs] == [{"recycled": 0, "warned": 0}, {"recycled": 0, "warned": 1}]
    [warning] = await warnings_of(app)
    assert (warning.related_id, warning.assignee_id, warning.status) == (neglected["id"], owner.id, "open")
    assert warning.due_at.date() == date(2026, 7, 15)  # 2026-07-16 00:00 Shanghai
    tasks = (await client.get("/api/v1/tasks", headers=run(owner.id))).json()["items"]
    assert [t["related_id"] for t in tasks] == [neglected["id"]]
    # The message centre says so too, once though the job ran twice.
    notified = (await client.get("/api/v1/notifications", headers=run(owner.id))).json()["items"]
    assert [(n["type"], n["path"], n["body"]) for n in notified] == [
        ("follow_up_due", f"/api/v1/customers/{neglected['id']}", warning.title)
    ]

    clock.advance(timedelta(days=1))
    assert (await client.post(RUN, headers=run(admin.id))).json()["counts"] == {"recycled": 0, "warned": 0}

    # Day 31 (07-16): more than 30 days without contact since 06-15: back to the pool.
    clock.advance(timedelta(days=2))
    assert (await client.post(RUN, headers=run(admin.id))).json()["counts"] == {"recycled": 1, "warned": 0}
    assert (await client.post(RUN, headers=run(admin.id))).json()["counts"] == {"recycled": 0, "warned": 0}

    pool = (await client.get(POOL, headers=run(owner.id))).json()["items"]
    assert [c["id"] for c in pool] == [neglected["id"]]
    mine = {c["id"] for c in (await client.get(BASE, headers=run(owner.id))).json()["items"]}
    assert mine == {contacted["id"], locked["id"], major["id"]}
    [warning] = await warnings_of(app)
    assert warning.status == "cancelled"
    admin = replace(admin, headers=run(admin.id))  # a token of the moved clock
    steps = await history(client, admin, neglected["id"])
    assert [(s["action"], s["from_user_id"], s["to_user_id"], s["actor_id"]) for s in steps] == [
        ("create", None, owner.id, owner.id),
        ("recycle", owner.id, None, None),
    ]
    assert steps[1]["reason"] == "Recycle rule: the default rule"
    audit = await audit_of(client, admin, "customer", neglected["id"])
    assert [e["action"] for e in audit] == ["create", "recycle"] and audit[1]["actor_id"] is None
    assert await published(app, "customer.recycled") == 1


async def test_a_deal_keeps_a_customer_and_the_clock_runs_from_when_its_owner_got_it(client, actors, app, frozen_clock):
    admin = await actors.make("admin")
    owner, claimant = await two_managers(actors)
    await put_rules(client, admin, {"level": None, "no_deal_days": 90})
    idle = await make_customer(client, owner)
    shipped = await make_customer(client, owner)
    claimed = await pooled(client, owner)
    async with app.state.db.sessionmaker() as session, session.begin():
        session.add(
            Order(
                external_id="E1", number="SO-1", customer_id=shipped["id"], order_date=date(2026, 8, 1), status=SHIPPED, total=100
            )
        )

    clock.advance(timedelta(days=80))
    response = await client.post(f"{BASE}/{claimed['id']}/claim", headers=actors.headers_for(claimant.id))
    assert response.status_code == 200, response.text
    clock.advance(timedelta(days=11))  # 91 days after the start; 11 after the claim

    response = await client.post(RUN, headers=actors.headers_for(admin.id))
    assert response.json()["counts"] == {"recycled": 1, "warned": 0}
    pool = (await client.get(POOL, headers=actors.headers_for(owner.id))).json()["items"]
    assert [c["id"] for c in pool] == [idle["id"]]


async def test_merge_is_kept_in_the_ownership_history(client, actors):
    owner = await actors.make("account_manager")
    survivor = await make_customer(client, owner, name="甲公司")
    loser = await make_customer(client, owner, name="甲公司分部")
    response = await client.post(f"{BASE}/{survivor['id']}/merge", json={"loser_id": loser["id"]}, headers=owner.headers)
    assert response.status_code == 200, response.text
    steps = await history(client, owner, survivor["id"])
    assert [(s["action"], s["from_user_id"], s["to_user_id"]) for s in steps] == [
        ("create", None, owner.id),
        ("merge", owner.id, owner.id),
    ]
    assert steps[1]["reason"] == f"{loser['code']} merged into it"
