"""Of N closes of one task at once exactly one wins, and only it is audited (PostgreSQL)."""

from tests.concurrency import RACERS, audited, losers_codes, race, skip_unless_postgresql, statuses

URL = "/api/v1/tasks"


async def test_concurrent_completes_and_cancels_close_once(client, actors, app, settings):
    skip_unless_postgresql(settings)
    owner = await actors.make("account_manager", team="East")
    created = await client.post(URL, json={"title": "回访客户"}, headers=owner.headers)
    task_id = created.json()["id"]

    responses = await race(lambda n: client.post(f"{URL}/{task_id}/{'complete' if n % 2 else 'cancel'}", headers=owner.headers))

    assert statuses(responses) == {200: 1, 409: RACERS - 1}
    assert losers_codes(responses) <= {"task.changed", "task.not_open"}
    assert await audited(app, "task", "complete") + await audited(app, "task", "cancel") == 1
    [winner] = [r.json() for r in responses if r.status_code == 200]
    current = (await client.get(f"{URL}/{task_id}", headers=owner.headers)).json()
    assert current["status"] == winner["status"] and current["closed_at"] == winner["closed_at"]
    assert current["allowed_actions"] == []
