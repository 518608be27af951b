"""Sign-in under load and attack: one winner per refresh token, a lockout no burst gets past, revocation at once
on credential changes, and a password queue that neither holds connections nor grows without bound."""

import asyncio

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from crm_api.models.identity import LoginAttempt, LoginThrottle
from tests.auth.factories import AUTH, DEADLINE, PasswordChecksSeen, app_client, bearer, login
from tests.concurrency import RACERS, race, skip_unless_postgresql, statuses
from tests.factories import PASSWORD, assert_problem


async def _refresh(client: httpx.AsyncClient, tokens: dict[str, str]) -> httpx.Response:
    return await client.post(f"{AUTH}/refresh", json={"refresh_token": tokens["refresh_token"]})


async def _attempts(app: FastAPI) -> int:
    async with app.state.db.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(LoginAttempt)) or 0)


async def test_parallel_refreshes_of_one_token_let_one_through(client, actors, settings):
    skip_unless_postgresql(settings)
    await actors.make("account_manager", username="li.na")
    tokens = (await login(client, "li.na")).json()

    responses = await race(lambda _: _refresh(client, tokens))

    assert statuses(responses) == {200: 1, 401: RACERS - 1}
    [winner] = [response.json() for response in responses if response.status_code == 200]
    assert (await client.get(f"{AUTH}/me", headers=bearer(winner))).status_code == 200
    # The losers presented a spent token: reuse, so the session ends, the winner's refresh token with it.
    assert_problem(await _refresh(client, winner), 401, "auth.invalid_refresh_token")


async def test_within_the_reuse_grace_only_the_winners_tokens_work(actors, settings):
    skip_unless_postgresql(settings)
    await actors.make("account_manager", username="li.na")
    async with app_client(settings, refresh_reuse_grace_seconds=60) as client:
        tokens = (await login(client, "li.na")).json()

        responses = await race(lambda _: _refresh(client, tokens))

        assert statuses(responses) == {200: 1, 401: RACERS - 1}
        assert {response.json()["code"] for response in responses if response.status_code == 401} == {
            "auth.invalid_refresh_token"
        }
        [winner] = [response.json() for response in responses if response.status_code == 200]
        assert (await client.get(f"{AUTH}/me", headers=bearer(winner))).status_code == 200
        assert (await _refresh(client, winner)).status_code == 200


async def test_a_burst_of_guesses_gets_no_more_than_the_lockout_allows(actors, app, settings, monkeypatch):
    await actors.make("account_manager", username="li.na")
    checks = PasswordChecksSeen(monkeypatch)
    guesses = 30
    # Every guess waits its turn, however slow the machine: the lockout alone turns them away.
    async with app_client(settings, password_check_wait_seconds=DEADLINE) as client:
        responses = await race(lambda n: login(client, "li.na", f"wrong-{n}"), racers=guesses)
        locked = await login(client, "li.na")

    allowed = settings.login_max_failures
    assert statuses(responses) == {401: allowed, 429: guesses - allowed}
    assert checks.count == allowed  # the Argon2 checks run: no more guesses were evaluated
    assert await _attempts(app) == allowed
    # Refused while the claimed guesses ran (busy), or after they had failed (locked).
    assert {r.json()["code"] for r in responses if r.status_code == 429} <= {"auth.busy", "auth.too_many_attempts"}
    assert all(0 < int(r.headers["retry-after"]) <= 15 * 60 for r in responses if r.status_code == 429)
    assert_problem(locked, 429, "auth.too_many_attempts")
    assert 0 < int(locked.headers["retry-after"]) <= 15 * 60
    assert checks.count == allowed


@pytest.mark.parametrize(
    ("change", "method", "body", "new_password"),
    [
        ("admin password reset", "PATCH", {"password": "a-brand-new-passphrase"}, "a-brand-new-passphrase"),
        ("role change", "PATCH", {"roles": ["sales_supervisor"]}, PASSWORD),
        ("disable", "POST", None, None),
    ],
)
async def test_a_change_revokes_earlier_tokens_at_once(client, actors, change, method, body, new_password):
    admin = await actors.make("admin")
    user = await actors.make("account_manager", username="li.na")
    tokens = (await login(client, "li.na")).json()
    url = f"/api/v1/users/{user.id}" + ("/disable" if change == "disable" else "")

    assert (await client.request(method, url, json=body, headers=admin.headers)).status_code == 200

    assert_problem(await client.get(f"{AUTH}/me", headers=bearer(tokens)), 401, "auth.invalid_token")
    assert_problem(await _refresh(client, tokens), 401, "auth.invalid_refresh_token")
    if new_password is not None:
        # A token issued after the change works, even within the same second.
        fresh = (await login(client, "li.na", new_password)).json()
        assert (await client.get(f"{AUTH}/me", headers=bearer(fresh))).status_code == 200


async def test_changing_ones_own_password_revokes_ones_earlier_tokens(client, actors):
    await actors.make("admin", username="root")
    tokens = (await login(client, "root")).json()
    me = (await client.get(f"{AUTH}/me", headers=bearer(tokens))).json()

    changed = await client.patch(f"/api/v1/users/{me['id']}", json={"password": "another-passphrase"}, headers=bearer(tokens))

    assert changed.status_code == 200
    assert_problem(await client.get(f"{AUTH}/me", headers=bearer(tokens)), 401, "auth.invalid_token")
    assert_problem(await _refresh(client, tokens), 401, "auth.invalid_refresh_token")
    assert_problem(await login(client, "root"), 401, "auth.invalid_credentials")
    assert (await login(client, "root", "another-passphrase")).status_code == 200


async def test_a_full_password_queue_answers_429_at_once(actors, settings, monkeypatch):
    await actors.make("account_manager", username="li.na")
    held = PasswordChecksSeen(monkeypatch, held=True)
    async with app_client(settings, password_check_concurrency=1, password_check_queue=0) as client:
        first = asyncio.create_task(login(client, "li.na"))
        await held.reached(1)

        turned_away = await asyncio.wait_for(login(client, "li.na"), DEADLINE)

        assert_problem(turned_away, 429, "auth.busy")
        assert turned_away.headers["retry-after"] == "1"
        held.release.set()
        assert (await asyncio.wait_for(first, DEADLINE)).status_code == 200


async def test_a_sign_in_that_waits_too_long_for_its_check_is_answered_busy_and_counts_nothing(
    actors, app, settings, monkeypatch
):
    await actors.make("account_manager", username="li.na")
    await actors.make("account_manager", username="wang.fang")
    held = PasswordChecksSeen(monkeypatch, held=True)
    async with app_client(settings, password_check_concurrency=1, password_check_wait_seconds=0.2) as client:
        first = asyncio.create_task(login(client, "li.na"))
        await held.reached(1)

        waited = await asyncio.wait_for(login(client, "wang.fang"), DEADLINE)

        assert_problem(waited, 429, "auth.busy")
        assert waited.headers["retry-after"] == "1"
        assert held.count == 1  # its password was never checked
        held.release.set()
        assert (await asyncio.wait_for(first, DEADLINE)).status_code == 200
    async with app.state.db.sessionmaker() as session:
        throttle = await session.get(LoginThrottle, "wang.fang")
    assert throttle is None  # turned away before anything was claimed or counted


async def test_a_sign_in_holds_no_connection_while_its_password_is_checked(actors, settings, monkeypatch):
    skip_unless_postgresql(settings)  # SQLite has no fixed-size pool to exhaust
    user = await actors.make("account_manager", username="li.na")
    held = PasswordChecksSeen(monkeypatch, held=True)
    async with app_client(settings, database_pool_size=1) as client:
        signing_in = asyncio.create_task(login(client, "li.na"))
        await held.reached(1)

        # The pool's one connection is free: a request in the meantime gets it.
        meanwhile = await asyncio.wait_for(client.get(f"{AUTH}/me", headers=user.headers), DEADLINE)

        assert meanwhile.status_code == 200
        held.release.set()
        assert (await asyncio.wait_for(signing_in, DEADLINE)).status_code == 200
