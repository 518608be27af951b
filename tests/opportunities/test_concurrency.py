"""Of N identical transitions at once exactly one wins; the rest get 409 and leave no trace (PostgreSQL)."""

from crm_api.models.customer import Contact, Customer
from tests.concurrency import RACERS, audited, losers_codes, published, race, skip_unless_postgresql, statuses
from tests.opportunities.factories import API, count_rows, create_opportunity, opportunity_in


async def _people(actors):
    creator = await actors.make("account_manager", team="east")
    supervisor = await actors.make("sales_supervisor", team="east")
    assignee = await actors.make("account_manager", team="east")
    return creator, supervisor, assignee


async def test_concurrent_wins_create_one_customer(client, actors, app, settings):
    skip_unless_postgresql(settings)
    creator, supervisor, assignee = await _people(actors)
    opportunity = await opportunity_in(client, "assigned", creator=creator, supervisor=supervisor, assignee=assignee)

    responses = await race(lambda _: client.post(f"{API}/{opportunity['id']}/win", headers=assignee.headers))

    assert statuses(responses) == {200: 1, 409: RACERS - 1}
    assert losers_codes(responses) <= {"opportunity.changed", "opportunity.closed"}
    assert await count_rows(app, Customer) == 1
    assert await count_rows(app, Contact) == 1
    assert await audited(app, "opportunity", "win") == 1
    assert await audited(app, "customer", "create") == 1
    assert await published(app, "opportunity.won") == 1


async def test_concurrent_assigns_assign_once(client, actors, app, settings):
    skip_unless_postgresql(settings)
    creator, supervisor, _ = await _people(actors)
    candidates = [await actors.make("account_manager", team="east") for _ in range(RACERS)]
    opportunity = await create_opportunity(client, creator)

    responses = await race(
        lambda n: client.post(
            f"{API}/{opportunity['id']}/assign", json={"assignee_id": candidates[n].id}, headers=supervisor.headers
        )
    )

    assert statuses(responses) == {200: 1, 409: RACERS - 1}
    [winner] = [r.json() for r in responses if r.status_code == 200]
    current = (await client.get(f"{API}/{opportunity['id']}", headers=supervisor.headers)).json()
    assert current["assignee_id"] == winner["assignee_id"] and current["status"] == "assigned"
    assert await audited(app, "opportunity", "assign") == 1


async def test_concurrent_loses_and_wins_close_once(client, actors, app, settings):
    skip_unless_postgresql(settings)
    creator, supervisor, assignee = await _people(actors)
    opportunity = await opportunity_in(client, "assigned", creator=creator, supervisor=supervisor, assignee=assignee)

    responses = await race(
        lambda n: client.post(f"{API}/{opportunity['id']}/{'win' if n % 2 else 'lose'}", headers=assignee.headers)
    )

    assert statuses(responses) == {200: 1, 409: RACERS - 1}
    closed = await published(app, "opportunity.won") + await published(app, "opportunity.lost")
    assert closed == 1
    assert await count_rows(app, Customer) == await published(app, "opportunity.won")


async def test_concurrent_updates_with_one_etag_one_wins_the_rest_412(client, actors, app, settings):
    skip_unless_postgresql(settings)
    creator, _, _ = await _people(actors)
    opportunity = await create_opportunity(client, creator)
    url = f"{API}/{opportunity['id']}"
    etag = (await client.get(url, headers=creator.headers)).headers["etag"]

    responses = await race(
        lambda n: client.patch(url, json={"summary": f"Version {n}"}, headers=creator.headers | {"If-Match": etag})
    )

    assert statuses(responses) == {200: 1, 412: RACERS - 1}
    assert losers_codes(responses) == {"precondition.etag_mismatch"}
    [winner] = [r.json() for r in responses if r.status_code == 200]
    current = await client.get(url, headers=creator.headers)
    assert current.json()["summary"] == winner["summary"]
    assert current.headers["etag"] == f'"{winner["version"]}"' != etag
    assert await audited(app, "opportunity", "update") == 1
