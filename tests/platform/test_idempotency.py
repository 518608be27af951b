from datetime import timedelta

from crm_api.core.clock import clock
from crm_api.core.idempotency import forget_old_keys
from tests.concurrency import race, skip_unless_postgresql
from tests.factories import assert_problem


async def _team_count(client, headers):
    return (await client.get("/api/v1/teams", params={"with_total": True}, headers=headers)).json()["total"]


async def test_a_retried_create_returns_the_first_response_and_creates_once(client, actors):
    admin = await actors.make("admin")
    headers = admin.headers | {"Idempotency-Key": "create-team-1"}
    first = await client.post("/api/v1/teams", json={"name": "华东"}, headers=headers)
    again = await client.post("/api/v1/teams", json={"name": "华东"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await _team_count(client, admin.headers) == 1


async def test_a_key_reused_for_another_request_is_refused(client, actors):
    admin = await actors.make("admin")
    headers = admin.headers | {"Idempotency-Key": "k-1"}
    await client.post("/api/v1/teams", json={"name": "A"}, headers=headers)
    refused = assert_problem(
        await client.post("/api/v1/teams", json={"name": "B"}, headers=headers), 422, "idempotency.key_reused"
    )
    assert refused["errors"][0]["field"] == "Idempotency-Key"
    assert await _team_count(client, admin.headers) == 1


async def test_keys_belong_to_their_caller(client, actors):
    first, second = await actors.make("admin"), await actors.make("admin")
    await client.post("/api/v1/teams", json={"name": "A"}, headers=first.headers | {"Idempotency-Key": "same"})
    other = await client.post("/api/v1/teams", json={"name": "B"}, headers=second.headers | {"Idempotency-Key": "same"})
    assert other.status_code == 201 and other.json()["name"] == "B"


async def test_a_refusal_is_replayed_too(client, actors):
    admin = await actors.make("admin")
    await client.post("/api/v1/teams", json={"name": "A"}, headers=admin.headers)
    headers = admin.headers | {"Idempotency-Key": "dup"}
    first = await client.post("/api/v1/teams", json={"name": "A"}, headers=headers)
    again = await client.post("/api/v1/teams", json={"name": "A"}, headers=headers)
    assert first.status_code == again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")


async def test_a_malformed_key_is_422(client, actors):
    admin = await actors.make("admin")
    response = await client.post("/api/v1/teams", json={"name": "A"}, headers=admin.headers | {"Idempotency-Key": "x" * 300})
    assert assert_problem(response, 422, "idempotency.invalid_key")["errors"][0]["field"] == "Idempotency-Key"


async def test_a_job_run_now_is_not_kept_as_it_commits_in_transactions_of_its_own(client, actors):
    admin = await actors.make("admin")
    headers = admin.headers | {"Idempotency-Key": "scan-now"}
    # On SQLite the job's own transaction once waited for the key's write lock until it timed out (503).
    runs = [await client.post("/api/v1/churn-warnings/scan", headers=headers) for _ in range(2)]
    assert [run.status_code for run in runs] == [200, 200], [run.text for run in runs]
    assert "idempotent-replayed" not in runs[1].headers


async def test_reads_ignore_the_header(client, actors):
    admin = await actors.make("admin")
    for _ in range(2):
        response = await client.get("/api/v1/teams", headers=admin.headers | {"Idempotency-Key": "read"})
        assert "idempotent-replayed" not in response.headers


async def test_keys_expire_after_a_day(client, actors, session, frozen_clock):
    admin = await actors.make("admin")
    await client.post("/api/v1/teams", json={"name": "A"}, headers=admin.headers | {"Idempotency-Key": "old"})
    clock.advance(timedelta(hours=25))
    assert await forget_old_keys(session, None) == {"deleted": 1}


async def test_concurrent_requests_with_one_key_have_one_effect(client, actors, settings):
    skip_unless_postgresql(settings)
    admin = await actors.make("admin")
    headers = admin.headers | {"Idempotency-Key": "race"}
    responses = await race(lambda _: client.post("/api/v1/teams", json={"name": "华南"}, headers=headers))
    first = [response for response in responses if response.status_code == 201 and "idempotent-replayed" not in response.headers]
    assert len(first) == 1
    for response in responses:
        if response.status_code == 409:
            assert_problem(response, 409, "idempotency.in_progress")
        elif response is not first[0]:
            assert response.status_code == 201 and response.headers["idempotent-replayed"] == "true"
            assert response.json() == first[0].json()
    assert await _team_count(client, admin.headers) == 1
