"""The customer pool (公海, SPEC §3.12): pool listing with masked contact details, claim, release, ownership history."""

from dataclasses import replace
from datetime import timedelta

import pytest

from crm_api.core.clock import clock
from crm_api.models.customer import OwnershipChange
from tests.concurrency import RACERS, audited, losers_codes, published, race, skip_unless_postgresql, statuses
from tests.customers.factories import BASE, audit_of, customer_names, make_customer, two_managers
from tests.factories import assert_problem
from tests.opportunities.factories import count_rows

POOL = "/api/v1/customer-pool"


async def pooled(client, owner, **fields):
    """A customer `owner` created and released into the pool."""
    customer = await make_customer(client, owner, **fields)
    response = await client.post(f"{BASE}/{customer['id']}/release", json={"reason": "不再跟进"}, headers=owner.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def history(client, actor, customer_id):
    response = await client.get(f"{BASE}/{customer_id}/ownership-history", headers=actor.headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_a_released_customer_is_in_the_pool_masked_and_out_of_its_former_owners_list(client, actors):
    owner, other = await two_managers(actors)
    kept = await make_customer(client, owner, name="留下的公司")
    released = await pooled(client, owner, name="公海公司", phone="13812345678", email="chen.jing@example.com")

    assert released["owner_id"] is None
    assert await customer_names(client, owner) == [kept["name"]]
    assert_problem(await client.get(f"{BASE}/{released['id']}", headers=owner.headers), 404, "customer.not_found")

    for caller in (owner, other, await actors.make("sales_supervisor", team="west"), await actors.make("admin")):
        response = await client.get(POOL, headers=caller.headers)
        assert response.status_code == 200, response.text
        [item] = response.json()["items"]
        assert item["id"] == released["id"] and item["owner_id"] is None
        assert item["phone"] == "138****5678"
        assert item["phone_e164"] == "+86****5678"
        assert item["email"] == "c****@example.com"


async def test_the_pool_has_the_filters_and_keyset_paging_of_the_customer_list(client, actors):
    manager = await actors.make("account_manager")
    for n in range(3):
        await pooled(client, manager, name=f"公海{n}号公司", region="beijing" if n else "shanghai")

    page = (await client.get(POOL, params={"limit": 1}, headers=manager.headers)).json()
    assert [i["name"] for i in page["items"]] == ["公海2号公司"]
    rest = (await client.get(POOL, params={"limit": 5, "cursor": page["next_cursor"]}, headers=manager.headers)).json()
    assert [i["name"] for i in rest["items"]] == ["公海1号公司", "公海0号公司"]
    shanghai = (await client.get(POOL, params={"region": "shanghai"}, headers=manager.headers)).json()
    assert [i["name"] for i in shanghai["items"]] == ["公海0号公司"]
    found = (await client.get(POOL, params={"q": "1号"}, headers=manager.headers)).json()
    assert [i["name"] for i in found["items"]] == ["公海1号公司"]


async def test_the_pool_is_for_who_may_own_customers(client, actors):
    assert_problem(await client.get(POOL), 401)
    for role in ("executive", "marketer"):
        assert_problem(await client.get(POOL, headers=(await actors.make(role)).headers), 403, "auth.missing_permission")


async def test_claim_makes_the_caller_owner_and_keeps_history(client, actors, app):
    owner, claimant = await two_managers(actors)
    customer = await pooled(client, owner, phone="13812345678")

    response = await client.post(f"{BASE}/{customer['id']}/claim", headers=claimant.headers)

    assert response.status_code == 200, response.text
    claimed = response.json()
    assert claimed["owner_id"] == claimant.id and claimed["phone"] == "13812345678"
    assert claimed["version"] == customer["version"] + 1
    assert (await client.get(POOL, headers=claimant.headers)).json()["items"] == []
    assert customer["name"] in await customer_names(client, claimant)
    steps = await history(client, claimant, customer["id"])
    assert [(s["action"], s["from_user_id"], s["to_user_id"], s["actor_id"]) for s in steps] == [
        ("create", None, owner.id, owner.id),
        ("release", owner.id, None, owner.id),
        ("claim", None, claimant.id, claimant.id),
    ]
    assert steps[1]["reason"] == "不再跟进" and steps[1]["from_user_name"] == owner.username.title()
    assert steps[2]["to_user_name"] == claimant.username.title()
    actions = [event["action"] for event in await audit_of(client, await actors.make("admin"), "customer", customer["id"])]
    assert actions == ["create", "release", "claim"]
    assert await published(app, "customer.released") == 1 and await published(app, "customer.claimed") == 1


async def test_an_owned_customer_cannot_be_claimed_and_the_refusal_names_its_owner(client, actors):
    owner, claimant = await two_managers(actors)
    customer = await make_customer(client, owner)

    body = assert_problem(
        await client.post(f"{BASE}/{customer['id']}/claim", headers=claimant.headers), 409, "customer.already_owned"
    )
    assert body["owner_name"] == owner.username.title()
    assert_problem(await client.post(f"{BASE}/{customer['id']}/claim", headers=owner.headers), 409, "customer.already_owned")


async def test_claim_is_guarded(client, actors):
    owner = await actors.make("account_manager")
    customer = await pooled(client, owner)
    url = f"{BASE}/{customer['id']}/claim"
    assert_problem(await client.post(url), 401)
    assert_problem(await client.post(url, headers=(await actors.make("executive")).headers), 403, "auth.missing_permission")
    assert_problem(await client.post(f"{BASE}/999999/claim", headers=owner.headers), 404, "customer.not_found")
    await client.delete(f"{BASE}/{customer['id']}", headers=(await actors.make("admin")).headers)
    assert_problem(await client.post(url, headers=owner.headers), 404, "customer.not_found")


async def test_claims_stop_at_the_limit_of_owned_active_customers(client, actors, app, monkeypatch):
    monkeypatch.setattr(app.state.settings, "pool_claim_limit", 2)
    giver, claimant = await two_managers(actors)
    first, second = await pooled(client, giver, name="甲公司"), await pooled(client, giver, name="乙公司")
    await make_customer(client, claimant, name="自有公司")

    assert (await client.post(f"{BASE}/{first['id']}/claim", headers=claimant.headers)).status_code == 200
    body = assert_problem(
        await client.post(f"{BASE}/{second['id']}/claim", headers=claimant.headers), 409, "customer.claim_limit"
    )
    assert body["limit"] == 2
    third = await actors.make("account_manager", team="east")
    assert (await client.post(f"{BASE}/{second['id']}/claim", headers=third.headers)).status_code == 200


async def test_who_released_a_customer_may_claim_it_back_only_after_the_cool_down(client, actors, frozen_clock):
    owner, other = await two_managers(actors)
    customer = await pooled(client, owner)
    url = f"{BASE}/{customer['id']}/claim"

    clock.advance(timedelta(days=7) - timedelta(seconds=1))
    headers = actors.headers_for(owner.id)  # a token of the moved clock
    body = assert_problem(await client.post(url, headers=headers), 409, "customer.claim_cooldown")
    assert body["claimable_at"] == (frozen_clock + timedelta(days=7)).isoformat()
    clock.advance(timedelta(seconds=1))
    assert (await client.post(url, headers=headers)).status_code == 200

    # Anyone else may claim a released customer at once.
    again = await pooled(client, replace(owner, headers=headers), name="另一家公司")
    claim = await client.post(f"{BASE}/{again['id']}/claim", headers=actors.headers_for(other.id))
    assert claim.status_code == 200, claim.text


async def test_release_by_the_owner_supervisor_or_admin_with_a_reason(client, actors):
    owner = await actors.make("account_manager", team="east")
    colleague = await actors.make("account_manager", team="east")
    own_supervisor = await actors.make("sales_supervisor", team="east")
    other_supervisor = await actors.make("sales_supervisor", team="west")
    admin = await actors.make("admin")
    customer = await make_customer(client, owner)
    url = f"{BASE}/{customer['id']}/release"

    assert_problem(await client.post(url, json={"reason": "x"}), 401)
    assert_problem(await client.post(url, json={}, headers=owner.headers), 422)
    assert_problem(await client.post(url, json={"reason": "  "}, headers=owner.headers), 422)
    assert_problem(
        await client.post(url, json={"reason": "x"}, headers=(await actors.make("executive")).headers),
        403,
        "auth.missing_permission",
    )
    for outsider in (colleague, other_supervisor):
        assert_problem(await client.post(url, json={"reason": "x"}, headers=outsider.headers), 404, "customer.not_found")

    response = await client.post(url, json={"reason": "客户长期无响应"}, headers=own_supervisor.headers)
    assert response.status_code == 200, response.text
    assert response.json()["owner_id"] is None
    # Already in the pool: no one's to release (an admin sees it, but it has no owner to give back).
    assert (await client.post(url, json={"reason": "again"}, headers=admin.headers)).status_code == 200
    steps = await history(client, admin, customer["id"])
    assert [(s["action"], s["from_user_id"], s["actor_id"], s["reason"]) for s in steps] == [
        ("create", None, owner.id, None),
        ("release", owner.id, own_supervisor.id, "客户长期无响应"),
        ("release", None, admin.id, "again"),
    ]


async def test_a_churned_customer_is_neither_released_nor_claimed(client, actors, app):
    from tests.customers.factories import churn

    owner, other = await two_managers(actors)
    customer = await make_customer(client, owner)
    await churn(app, customer["id"])
    release = await client.post(f"{BASE}/{customer['id']}/release", json={"reason": "x"}, headers=owner.headers)
    assert_problem(release, 409, "customer.not_active")
    in_pool = await pooled(client, owner, name="公海公司")
    await churn(app, in_pool["id"])
    claim = await client.post(f"{BASE}/{in_pool['id']}/claim", headers=other.headers)
    assert_problem(claim, 409, "customer.not_active")


async def test_transfer_is_kept_in_the_ownership_history(client, actors):
    owner, successor = await two_managers(actors)
    supervisor = await actors.make("sales_supervisor", team="east")
    customer = await make_customer(client, owner)
    response = await client.post(f"{BASE}/{customer['id']}/transfer", json={"owner_id": successor.id}, headers=supervisor.headers)
    assert response.status_code == 200, response.text

    steps = await history(client, successor, customer["id"])
    assert [(s["action"], s["from_user_id"], s["to_user_id"], s["actor_id"]) for s in steps] == [
        ("create", None, owner.id, owner.id),
        ("transfer", owner.id, successor.id, supervisor.id),
    ]


async def test_ownership_history_follows_the_customers_visibility_or_the_pool(client, actors):
    owner, other = await two_managers(actors)
    owned = await make_customer(client, owner)
    in_pool = await pooled(client, owner, name="公海公司")
    url = f"{BASE}/{owned['id']}/ownership-history"

    assert_problem(await client.get(url), 401)
    assert_problem(await client.get(url, headers=(await actors.make("marketer")).headers), 403, "auth.missing_permission")
    assert_problem(await client.get(url, headers=other.headers), 404, "customer.not_found")
    assert_problem(await client.get(f"{BASE}/999999/ownership-history", headers=owner.headers), 404, "customer.not_found")
    assert [s["action"] for s in await history(client, other, in_pool["id"])] == ["create", "release"]
    executive = await actors.make("executive")  # reads every customer, may not claim
    assert [s["action"] for s in await history(client, executive, owned["id"])] == ["create"]


@pytest.mark.parametrize("racers", [RACERS])
async def test_concurrent_claims_of_one_customer_one_wins_the_rest_are_told_who(client, actors, app, settings, racers):
    skip_unless_postgresql(settings)
    owner = await actors.make("account_manager", team="east")
    customer = await pooled(client, owner)
    claimants = [await actors.make("account_manager", team="east") for _ in range(racers)]

    responses = await race(lambda n: client.post(f"{BASE}/{customer['id']}/claim", headers=claimants[n].headers), racers)

    assert statuses(responses) == {200: 1, 409: racers - 1}
    assert losers_codes(responses) == {"customer.already_owned"}
    [winner] = [r.json() for r in responses if r.status_code == 200]
    winner_name = next(c.username.title() for c in claimants if c.id == winner["owner_id"])
    assert {r.json()["owner_name"] for r in responses if r.status_code == 409} == {winner_name}
    assert await audited(app, "customer", "claim") == 1
    assert await published(app, "customer.claimed") == 1
    claims = [s for s in await history(client, await actors.make("admin"), customer["id"]) if s["action"] == "claim"]
    assert len(claims) == 1 and claims[0]["to_user_id"] == winner["owner_id"]
    assert await count_rows(app, OwnershipChange) == 3  # create, release, one claim
