"""Of N identical campaign transitions at once exactly one wins; the rest get 409 and leave no trace (PostgreSQL)."""

from tests.concurrency import RACERS, audited, losers_codes, race, skip_unless_postgresql, statuses
from tests.marketing.factories import CAMPAIGNS, act, campaign_in, create_segment


async def test_concurrent_starts_start_once(client, actors, app, settings):
    skip_unless_postgresql(settings)
    marketer = await actors.make("marketer")
    segment = await create_segment(client, marketer)
    campaign = await campaign_in(client, marketer, segment["id"], "scheduled")

    responses = await race(lambda _: act(client, marketer, campaign["id"], "start"))

    assert statuses(responses) == {200: 1, 409: RACERS - 1}
    assert losers_codes(responses) <= {"campaign.changed", "campaign.not_scheduled"}
    assert all(r.json()["current_status"] == "running" for r in responses if r.status_code == 409)
    current = await client.get(f"{CAMPAIGNS}/{campaign['id']}", headers=marketer.headers)
    assert current.json()["status"] == "running"
    assert await audited(app, "campaign", "start") == 1


async def test_concurrent_schedules_and_cancels_move_a_draft_once(client, actors, app, settings):
    skip_unless_postgresql(settings)
    marketer = await actors.make("marketer")
    segment = await create_segment(client, marketer)
    campaign = await campaign_in(client, marketer, segment["id"], "draft")

    responses = await race(lambda n: act(client, marketer, campaign["id"], "schedule" if n % 2 else "cancel"))

    # Each move is taken once from the state it read; a cancel that reads the scheduled campaign may
    # legitimately follow a schedule (draft → scheduled → cancelled), never the other way round.
    won = [r.json() for r in responses if r.status_code == 200]
    assert statuses(responses) == {200: len(won), 409: RACERS - len(won)}
    schedules, cancels = await audited(app, "campaign", "schedule"), await audited(app, "campaign", "cancel")
    assert schedules <= 1 and cancels <= 1 and schedules + cancels == len(won) >= 1
    current = (await client.get(f"{CAMPAIGNS}/{campaign['id']}", headers=marketer.headers)).json()
    assert current["status"] == ("cancelled" if cancels else "scheduled")
    assert current["version"] == max(w["version"] for w in won)
