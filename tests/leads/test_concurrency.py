"""Of N identical lead transitions at once exactly one wins; the rest get 409 and leave no trace (PostgreSQL)."""

from crm_api.models.pipeline import LeadActivity, Opportunity
from tests.concurrency import RACERS, audited, losers_codes, race, skip_unless_postgresql, statuses
from tests.leads.factories import API, lead_in
from tests.opportunities.factories import count_rows


async def test_concurrent_converts_create_one_opportunity(client, actors, app, settings):
    skip_unless_postgresql(settings)
    owner = await actors.make("account_manager", team="east")
    lead = await lead_in(client, owner, "qualified")

    responses = await race(lambda _: client.post(f"{API}/{lead['id']}/convert", headers=owner.headers))

    assert statuses(responses) == {200: 1, 409: RACERS - 1}
    assert losers_codes(responses) <= {"lead.changed", "lead.converted"}
    assert all(r.json()["current_status"] == "converted" for r in responses if r.status_code == 409)
    [winner] = [r.json() for r in responses if r.status_code == 200]
    current = (await client.get(f"{API}/{lead['id']}", headers=owner.headers)).json()
    assert current["status"] == "converted" and current["opportunity_id"] == winner["opportunity"]["id"]
    assert await count_rows(app, Opportunity) == 1
    assert await audited(app, "lead", "convert") == 1
    assert await audited(app, "opportunity", "create") == 1


async def test_concurrent_qualifies_qualify_once(client, actors, app, settings):
    skip_unless_postgresql(settings)
    owner = await actors.make("account_manager", team="east")
    lead = await lead_in(client, owner, "working")

    responses = await race(lambda _: client.post(f"{API}/{lead['id']}/qualify", headers=owner.headers))

    assert statuses(responses) == {200: 1, 409: RACERS - 1}
    assert losers_codes(responses) <= {"lead.changed", "lead.invalid_status"}
    current = await client.get(f"{API}/{lead['id']}", headers=owner.headers)
    assert current.json()["status"] == "qualified"
    assert await audited(app, "lead", "qualify") == 1


async def test_concurrent_converts_and_disqualifies_close_the_lead_once(client, actors, app, settings):
    skip_unless_postgresql(settings)
    owner = await actors.make("account_manager", team="east")
    lead = await lead_in(client, owner, "new")
    url = f"{API}/{lead['id']}"

    responses = await race(
        lambda n: (
            client.post(f"{url}/convert", headers=owner.headers)
            if n % 2
            else client.post(f"{url}/disqualify", json={"reason": "Duplicate"}, headers=owner.headers)
        )
    )

    assert statuses(responses) == {200: 1, 409: RACERS - 1}
    closed = await audited(app, "lead", "convert") + await audited(app, "lead", "disqualify")
    assert closed == 1
    status = (await client.get(url, headers=owner.headers)).json()["status"]
    assert await count_rows(app, Opportunity) == (1 if status == "converted" else 0)


async def test_concurrent_activities_on_a_new_lead_record_one(client, actors, app, settings):
    """Each activity moves the lead (status, score): losers record no activity."""
    skip_unless_postgresql(settings)
    owner = await actors.make("account_manager", team="east")
    lead = await lead_in(client, owner, "new")

    responses = await race(lambda _: client.post(f"{API}/{lead['id']}/activities", json={"kind": "call"}, headers=owner.headers))

    # A request that reads the lead after a winner committed may legitimately add its own activity:
    # every 201 is exactly one activity and one move of the lead, every 409 left nothing behind.
    recorded = statuses(responses)[201]
    assert recorded >= 1 and statuses(responses) == {201: recorded, 409: RACERS - recorded}
    assert losers_codes(responses, winner_status=201) <= {"lead.changed"}
    assert (await client.get(f"{API}/{lead['id']}", headers=owner.headers)).json()["status"] == "working"
    assert await count_rows(app, LeadActivity) == recorded
    assert await audited(app, "lead_activity", "create") == recorded
    assert await audited(app, "lead", "nurture") == recorded
