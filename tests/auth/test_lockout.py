"""The lockout counts failures, not sign-ins: concurrent right passwords are never locked out, a burst of guesses
still gets no more checks than the limit, outdated hashes are renewed on sign-in, and ended windows are swept."""

import asyncio
from datetime import timedelta

import httpx
import pytest
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import func, select, update

from crm_api.auth.jobs import LOGIN_THROTTLE_CLEANUP
from crm_api.core.clock import clock
from crm_api.core.scheduler import JOBS, run_job
from crm_api.core.security import password_hash
from crm_api.models.identity import LoginThrottle, User
from tests.auth.factories import AUTH, DEADLINE, PasswordChecksSeen, app_client, bearer, login
from tests.concurrency import race, skip_unless_postgresql, statuses
from tests.factories import PASSWORD, assert_problem

SIGN_INS = 32
# Parameters of an older release: weaker than today's, so a sign-in should hash the password anew.
OLD_HASHER = Argon2Hasher(memory_cost=8 * 1024, time_cost=1, parallelism=1)


async def _stored_hash(app, username: str) -> str:
    async with app.state.db.sessionmaker() as session:
        return str(await session.scalar(select(User.password_hash).where(User.username == username)))


async def _set_hash(app, username: str, hashed: str) -> None:
    async with app.state.db.sessionmaker() as session, session.begin():
        await session.execute(update(User).where(User.username == username).values(password_hash=hashed))


async def _until_running(
    tasks: list[asyncio.Task[httpx.Response]], left: int
) -> tuple[set[asyncio.Task[httpx.Response]], set[asyncio.Task[httpx.Response]]]:
    """Waits (up to DEADLINE) until all but `left` of the tasks are done: (done, still running)."""
    done: set[asyncio.Task[httpx.Response]] = set()
    running = set(tasks)
    deadline = asyncio.get_running_loop().time() + DEADLINE
    while len(running) > left:
        finished, running = await asyncio.wait(
            running, timeout=deadline - asyncio.get_running_loop().time(), return_when=asyncio.FIRST_COMPLETED
        )
        assert finished, f"{len(running)} sign-ins still running after {DEADLINE} s"
        done |= finished
    return done, running


async def test_concurrent_sign_ins_with_the_right_password_are_never_locked_out(client, actors, settings):
    skip_unless_postgresql(settings)
    await actors.make("account_manager", username="li.na")

    responses = await race(lambda _: login(client, "li.na"), racers=SIGN_INS)

    codes = {r.json()["code"] for r in responses if r.status_code != 200}
    assert set(statuses(responses)) <= {200, 429}
    assert codes <= {"auth.busy"}  # only while other checks of the username run; never "too many attempts"
    assert statuses(responses)[200] >= 1
    assert all(r.headers["retry-after"] == "1" for r in responses if r.status_code == 429)
    for response in responses:
        if response.status_code == 200:
            assert (await client.get(f"{AUTH}/me", headers=bearer(response.json()))).status_code == 200
    assert (await login(client, "li.na")).status_code == 200  # nothing was counted against the username


async def test_checks_in_flight_answer_busy_and_the_right_password_gets_no_check_past_the_cap(actors, settings, monkeypatch):
    await actors.make("account_manager", username="li.na")
    checks = PasswordChecksSeen(monkeypatch, held=True)
    limit = settings.login_max_failures
    async with app_client(settings, password_check_concurrency=8) as client:
        guesses = [asyncio.create_task(login(client, "li.na", f"wrong-{n}")) for n in range(30)]
        await checks.reached(limit)
        done, running = await _until_running(guesses, limit)
        # Every guess but the `limit` being checked was turned away at once, as busy: none had failed yet.
        assert len(running) == limit
        for refused in done:
            assert_problem(refused.result(), 429, "auth.busy")
            assert refused.result().headers["retry-after"] == "1"

        right_during = await asyncio.wait_for(login(client, "li.na"), DEADLINE)

        assert_problem(right_during, 429, "auth.busy")
        assert checks.count == limit  # the right password was not checked
        checks.release.set()
        for failed in await asyncio.gather(*running):
            assert_problem(failed, 401, "auth.invalid_credentials")
        right_after = await login(client, "li.na")
        assert_problem(right_after, 429, "auth.too_many_attempts")
        assert 0 < int(right_after.headers["retry-after"]) <= settings.login_lockout_minutes * 60
        assert checks.count == limit


async def test_a_check_cut_short_counts_as_a_failure_and_stops_running(client, actors, app, monkeypatch):
    await actors.make("account_manager", username="li.na")
    checks = PasswordChecksSeen(monkeypatch, held=True)
    signing_in = asyncio.create_task(login(client, "li.na"))
    await checks.reached(1)

    signing_in.cancel()  # the client went away, or the server is stopping

    with pytest.raises(asyncio.CancelledError):
        await signing_in
    async with app.state.db.sessionmaker() as session:
        throttle = await session.get(LoginThrottle, "li.na")
    assert throttle is not None and (throttle.failures, throttle.checks_in_flight) == (1, 0)


async def test_sign_in_rehashes_a_password_hashed_with_older_parameters(client, actors, app):
    await actors.make("account_manager", username="li.na")
    old = OLD_HASHER.hash(PASSWORD)
    await _set_hash(app, "li.na", old)

    assert (await login(client, "li.na")).status_code == 200

    renewed = await _stored_hash(app, "li.na")
    assert renewed != old
    assert renewed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")  # today's parameters
    assert password_hash.verify(PASSWORD, renewed)
    assert (await login(client, "li.na")).status_code == 200
    assert await _stored_hash(app, "li.na") == renewed  # current parameters: left as it is
    assert_problem(await login(client, "li.na", "wrong"), 401, "auth.invalid_credentials")


async def test_concurrent_sign_ins_with_an_old_hash_all_get_in_and_leave_one_new_hash(actors, app, settings):
    await actors.make("account_manager", username="li.na")
    await _set_hash(app, "li.na", OLD_HASHER.hash(PASSWORD))
    limit = settings.login_max_failures
    async with app_client(settings, password_check_concurrency=limit) as client:
        responses = await race(lambda _: login(client, "li.na"), racers=limit)

    assert statuses(responses) == {200: limit}  # no deadlock, and no rehash taken for a password change
    renewed = await _stored_hash(app, "li.na")
    assert renewed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert password_hash.verify(PASSWORD, renewed)


async def test_the_cleanup_job_deletes_ended_windows_only(client, actors, app, settings, frozen_clock):
    admin = await actors.make("admin")
    assert {"name": LOGIN_THROTTLE_CLEANUP, "cron": "7 * * * *"} in (
        await client.get("/api/v1/jobs", headers=admin.headers)
    ).json()
    assert_problem(await login(client, "nobody", "wrong"), 401)
    clock.advance(timedelta(minutes=settings.login_lockout_minutes))
    assert_problem(await login(client, "someone", "wrong"), 401)

    outcome = await run_job(app.state.db, app.state.settings, JOBS[LOGIN_THROTTLE_CLEANUP])

    assert outcome.counts == {"deleted": 1}
    async with app.state.db.sessionmaker() as session:
        assert list(await session.scalars(select(LoginThrottle.username))) == ["someone"]
        assert await session.scalar(select(func.count()).select_from(LoginThrottle)) == 1


async def test_a_keyed_sign_in_is_not_kept_and_holds_no_connection_while_checked(actors, settings, monkeypatch):
    """Idempotency-Key is ignored on /auth: tokens are not stored for replay, and no key holds a pooled connection."""
    user = await actors.make("account_manager", username="li.na")
    checks = PasswordChecksSeen(monkeypatch, held=True)
    async with app_client(settings, database_pool_size=1) as client:
        signing_in = asyncio.create_task(login(client, "li.na", **{"Idempotency-Key": "sign-in-1"}))
        await checks.reached(1)

        meanwhile = await asyncio.wait_for(client.get(f"{AUTH}/me", headers=user.headers), DEADLINE)

        assert meanwhile.status_code == 200
        checks.release.set()
        first = await asyncio.wait_for(signing_in, DEADLINE)
        again = await login(client, "li.na", **{"Idempotency-Key": "sign-in-1"})
    assert first.status_code == again.status_code == 200
    assert "idempotent-replayed" not in again.headers
    assert again.json()["refresh_token"] != first.json()["refresh_token"]
