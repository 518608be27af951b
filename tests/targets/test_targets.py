"""Monthly sales targets of people and teams (SPEC §3.13): who may set and read them, and bad input."""

from dataclasses import dataclass

import pytest

from tests.concurrency import RACERS, race, skip_unless_postgresql, statuses
from tests.factories import Actor, Actors, assert_problem

API = "/api/v1/sales-targets"


@dataclass
class Sales:
    admin: Actor
    executive: Actor
    east_supervisor: Actor
    east_manager: Actor
    east_colleague: Actor
    south_manager: Actor
    marketer: Actor


@pytest.fixture
async def sales(actors: Actors) -> Sales:
    return Sales(
        admin=await actors.make("admin"),
        executive=await actors.make("executive"),
        east_supervisor=await actors.make("sales_supervisor", team="East"),
        east_manager=await actors.make("account_manager", team="East"),
        east_colleague=await actors.make("account_manager", team="East"),
        south_manager=await actors.make("account_manager", team="South"),
        marketer=await actors.make("marketer"),
    )


async def _set(client, by, **body):
    return await client.post(API, json={"month": "2026-12", "amount": "100000.00"} | body, headers=by.headers)


async def test_a_target_is_set_read_changed_and_removed_with_an_audit_trail(client, sales):
    created = await _set(client, sales.admin, user_id=sales.east_manager.id, amount="150000.5")
    assert created.status_code == 201, created.text
    target = created.json()
    assert {k: target[k] for k in ("month", "holder", "user_id", "team_id", "amount", "version")} == {
        "month": "2026-12",
        "holder": "user",
        "user_id": sales.east_manager.id,
        "team_id": None,
        "amount": "150000.50",
        "version": 1,
    }
    assert target["user_name"] == sales.east_manager.username.title()
    url = f"{API}/{target['id']}"
    read = await client.get(url, headers=sales.east_manager.headers)
    assert read.json() == target and read.headers["etag"] == '"1"'
    stale = await client.patch(url, json={"amount": "1.00"}, headers=sales.admin.headers | {"If-Match": '"9"'})
    assert_problem(stale, 412, "precondition.etag_mismatch")
    changed = await client.patch(url, json={"amount": "160000"}, headers=sales.executive.headers | {"If-Match": '"1"'})
    assert changed.status_code == 200 and changed.json()["amount"] == "160000.00" and changed.json()["version"] == 2
    assert (await client.delete(url, headers=sales.executive.headers)).status_code == 204
    assert_problem(await client.get(url, headers=sales.admin.headers), 404, "sales_target.not_found")
    events = (
        await client.get(
            "/api/v1/audit-events", params={"entity_type": "sales_target", "entity_id": target["id"]}, headers=sales.admin.headers
        )
    ).json()["items"]
    assert [e["action"] for e in events] == ["delete", "update", "create"]
    assert events[1]["changes"]["amount"] == {"before": "150000.50", "after": "160000.00"}


async def test_one_target_per_person_or_team_and_month(client, sales):
    first = (await _set(client, sales.admin, user_id=sales.east_manager.id)).json()
    again = await _set(client, sales.executive, user_id=sales.east_manager.id, amount="1.00")
    assert assert_problem(again, 409, "sales_target.duplicate")["existing_id"] == first["id"]
    # Another month, the team's own target and another person's are all separate targets.
    assert (await _set(client, sales.admin, user_id=sales.east_manager.id, month="2027-01")).status_code == 201
    assert (await _set(client, sales.admin, team_id=sales.east_manager.team_id)).status_code == 201
    assert (await _set(client, sales.admin, user_id=sales.east_colleague.id)).status_code == 201
    assert_problem(await _set(client, sales.admin, team_id=sales.east_manager.team_id, amount="5"), 409, "sales_target.duplicate")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "-0.01"}, "amount"),
        ({"amount": "1.001"}, "amount"),
        ({"amount": "1000000000000000"}, "amount"),
        ({"month": "2026-13"}, "month"),
        ({"month": "2026-12-01"}, "month"),
        ({"month": "0000-01"}, "month"),
        ({"month": None}, "month"),
        ({"user_id": None}, "body"),
        ({"team_id": 1}, "body"),
        ({"holder": "user"}, "holder"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field_and_writes_nothing(client, sales, body, field):
    sent = {"month": "2026-12", "user_id": sales.east_manager.id, "amount": "100.00"} | body
    problem = assert_problem(await client.post(API, json=sent, headers=sales.admin.headers), 422)
    assert field in {error["field"] for error in problem["errors"]}, problem
    assert (await client.get(API, headers=sales.admin.headers)).json()["items"] == []


async def test_an_unknown_person_or_team_is_a_422(client, sales):
    assert_problem(await _set(client, sales.admin, user_id=999_999), 422, "sales_target.unknown_user")
    assert_problem(await _set(client, sales.admin, team_id=999_999), 422, "sales_target.unknown_team")


async def test_a_supervisor_sets_their_own_team_and_its_members_only(client, sales):
    supervisor = sales.east_supervisor
    assert (await _set(client, supervisor, user_id=sales.east_manager.id)).status_code == 201
    assert (await _set(client, supervisor, team_id=supervisor.team_id)).status_code == 201
    assert_problem(await _set(client, supervisor, user_id=sales.south_manager.id), 403, "sales_target.outside_scope")
    assert_problem(await _set(client, supervisor, team_id=sales.south_manager.team_id), 403, "sales_target.outside_scope")
    south = (await _set(client, sales.admin, user_id=sales.south_manager.id)).json()
    # Another team's target answers as if it did not exist.
    assert_problem(await client.patch(f"{API}/{south['id']}", json={"amount": "1"}, headers=supervisor.headers), 404)
    assert_problem(await client.delete(f"{API}/{south['id']}", headers=supervisor.headers), 404)


async def test_account_managers_read_their_own_and_set_none(client, sales):
    own = (await _set(client, sales.admin, user_id=sales.east_manager.id)).json()
    colleague = (await _set(client, sales.admin, user_id=sales.east_colleague.id)).json()
    team = (await _set(client, sales.admin, team_id=sales.east_manager.team_id)).json()
    manager = sales.east_manager
    assert [t["id"] for t in (await client.get(API, headers=manager.headers)).json()["items"]] == [own["id"]]
    for other in (colleague, team):
        assert_problem(await client.get(f"{API}/{other['id']}", headers=manager.headers), 404, "sales_target.not_found")
    assert_problem(await _set(client, manager, user_id=manager.id, month="2027-02"), 403, "auth.missing_permission")
    patch = await client.patch(f"{API}/{own['id']}", json={"amount": "1"}, headers=manager.headers)
    assert_problem(patch, 403, "auth.missing_permission")
    assert_problem(await client.get(API, headers=sales.marketer.headers), 403, "auth.missing_permission")
    assert_problem(await client.get(API), 401)
    supervisor_sees = (await client.get(API, headers=sales.east_supervisor.headers)).json()["items"]
    assert {t["id"] for t in supervisor_sees} == {own["id"], colleague["id"], team["id"]}


async def test_the_list_filters_by_month_range_holder_and_whose(client, sales):
    ids = {}
    for month in ("2026-10", "2026-11", "2026-12"):
        ids[month] = (await _set(client, sales.admin, user_id=sales.east_manager.id, month=month)).json()["id"]
    team = (await _set(client, sales.admin, team_id=sales.east_manager.team_id, month="2026-11")).json()["id"]
    other = (await _set(client, sales.admin, user_id=sales.south_manager.id, month="2026-11")).json()["id"]

    async def listed(**params):
        response = await client.get(API, params=params, headers=sales.executive.headers)
        assert response.status_code == 200, response.text
        return [t["id"] for t in response.json()["items"]]

    assert await listed(month_from="2026-11", month_to="2026-11") == sorted([team, other, ids["2026-11"]])
    assert await listed(user_id=sales.east_manager.id) == [ids["2026-10"], ids["2026-11"], ids["2026-12"]]
    assert await listed(holder="team") == [team]
    assert await listed(team_id=sales.east_manager.team_id) == [team]
    assert await listed(month_from="2026-12") == [ids["2026-12"]]
    assert await listed(sort="-amount", limit=1) != []
    problem = assert_problem(await client.get(API, params={"month_from": "2026-1"}, headers=sales.admin.headers), 422)
    assert problem["errors"][0]["field"] == "month_from"


async def test_concurrent_creates_of_one_month_make_one_target(client, settings, sales):
    skip_unless_postgresql(settings)

    async def one(_):
        return await _set(client, sales.admin, user_id=sales.east_manager.id)

    responses = await race(one)
    assert statuses(responses) == {201: 1, 409: RACERS - 1}
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"sales_target.duplicate"}
