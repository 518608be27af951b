"""Of 20 submits of one quote at once exactly one moves it and opens one approval request (PostgreSQL)."""

from tests.concurrency import RACERS, audited, losers_codes, published, race, skip_unless_postgresql, statuses
from tests.quotes.factories import API, Desk, supervisor_flow


async def test_concurrent_submits_open_one_approval_request(client, actors, app, settings):
    skip_unless_postgresql(settings)
    desk = await Desk(client, actors).set_up()
    await supervisor_flow(client, desk.admin)
    quote = await desk.quote(discount="30")

    responses = await race(lambda _: client.post(f"{API}/{quote['id']}/submit", headers=desk.manager.headers))

    assert statuses(responses) == {200: 1, 409: RACERS - 1}
    assert losers_codes(responses) <= {"quote.changed", "quote.not_draft"}
    assert await audited(app, "quote", "submit") == 1
    assert await audited(app, "approval", "request") == 1
    assert await published(app, "approval.requested") == 1


async def test_concurrent_revisions_make_one_new_version(client, actors, app, settings):
    skip_unless_postgresql(settings)
    desk = await Desk(client, actors).set_up()
    quote = await desk.quote()
    await desk.act(quote["id"], "submit")

    responses = await race(lambda _: client.post(f"{API}/{quote['id']}/revise", headers=desk.manager.headers))

    assert statuses(responses) == {201: 1, 409: RACERS - 1}
    listed = (await client.get(API, headers=desk.manager.headers)).json()["items"]
    assert sorted(q["revision"] for q in listed) == [1, 2]
    assert await audited(app, "quote", "revise") == 1
    assert await published(app, "quote.created") == 2
