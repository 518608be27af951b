"""Each worker resolves a caller once and then from memory: no lookup of the user, roles and grants per request, and
no API key write per request; every change to what a caller may do applies at once in the writer's process and
within a second in another one (NOTIFY on PostgreSQL, a short trust on SQLite)."""

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import datetime

import httpx

from crm_api.auth.principal import API_KEY_USE_RESOLUTION
from crm_api.core.cache import EVERYTHING, ProcessCache
from crm_api.core.clock import clock
from crm_api.core.pubsub import PRINCIPAL_CHANNEL
from tests.customers.factories import customer_names, make_customer
from tests.factories import assert_problem, count_statements
from tests.platform.test_deployment import crm
from tests.platform.test_idempotency_crash import _until

CUSTOMERS = "/api/v1/customers"
# How long another process may go on answering a caller whose access just changed: PostgreSQL's NOTIFY arrives in
# milliseconds; on SQLite an entry is trusted for principal_cache_seconds (1 s), then a poll's request.
ANOTHER_PROCESS_SECONDS = 1.0
SQLITE_ALLOWANCE_SECONDS = 1.0


def _reads_the_caller(statements: list[str]) -> bool:
    return any("role_permissions" in statement or "api_keys" in statement for statement in statements)


async def _settled(app, request: Callable[[], Awaitable[object]]) -> None:
    """Until the app hears of changes (PostgreSQL) and `request` finds its caller cached: the listening connection
    coming up and the NOTIFY of the test's clean start each empty the cache once, whenever they arrive."""

    async def cached() -> bool:
        with count_statements(app.state.db.engine) as statements:
            await request()
        hears = app.state.pubsub.listening or not app.state.pubsub.live
        return hears and not _reads_the_caller(statements)

    await _until(cached, 10, "the caller to be answered from the cache")


async def test_a_signed_in_caller_is_read_from_the_database_once(app, client, actors):
    me = await actors.make("executive")
    with count_statements(app.state.db.engine) as first:
        assert (await client.get(CUSTOMERS, headers=me.headers)).status_code == 200
    await _settled(app, lambda: client.get(CUSTOMERS, headers=me.headers))
    with count_statements(app.state.db.engine) as later:
        for _ in range(3):
            assert (await client.get(CUSTOMERS, headers=me.headers)).status_code == 200
    assert _reads_the_caller(first)
    assert not _reads_the_caller(later)
    assert len(later) == 3 * (len(first) - 1)  # the list's own statement, and nothing else


async def test_an_api_key_is_read_once_and_its_last_use_written_once_a_minute(app, client, actors, frozen_clock):
    admin = await actors.make("admin")
    issued = (await client.post("/api/v1/api-keys", json={"name": "ERP"}, headers=admin.headers)).json()
    integrator = {"X-API-Key": issued["secret"]}
    with count_statements(app.state.db.engine) as first:
        assert_problem(await client.get("/api/v1/users", headers=integrator), 403, "auth.missing_permission")
    await _settled(app, lambda: client.get("/api/v1/users", headers=integrator))
    with count_statements(app.state.db.engine) as within_the_minute:
        assert_problem(await client.get("/api/v1/users", headers=integrator), 403)
    clock.advance(API_KEY_USE_RESOLUTION)
    with count_statements(app.state.db.engine) as a_minute_later:
        assert_problem(await client.get("/api/v1/users", headers=integrator), 403)

    assert [s for s in first if s.lstrip().upper().startswith("UPDATE")]
    assert within_the_minute == []
    assert len(a_minute_later) == 1 and a_minute_later[0].lstrip().upper().startswith("UPDATE")
    shown = (await client.get(f"/api/v1/api-keys/{issued['id']}", headers=admin.headers)).json()
    assert datetime.fromisoformat(shown["last_used_at"]) == frozen_clock + API_KEY_USE_RESOLUTION


async def test_a_revoked_api_key_is_refused_at_once(client, actors):
    admin = await actors.make("admin")
    issued = (await client.post("/api/v1/api-keys", json={"name": "ERP"}, headers=admin.headers)).json()
    integrator = {"X-API-Key": issued["secret"]}
    assert_problem(await client.get("/api/v1/users", headers=integrator), 403)
    assert (await client.delete(f"/api/v1/api-keys/{issued['id']}", headers=admin.headers)).status_code == 204
    assert_problem(await client.get("/api/v1/users", headers=integrator), 401, "auth.invalid_api_key")


async def test_a_new_team_changes_what_a_supervisor_sees_at_once(client, actors):
    admin = await actors.make("admin")
    east_manager = await actors.make("account_manager", team="east")
    west_manager = await actors.make("account_manager", team="west")
    supervisor = await actors.make("sales_supervisor", team="east")
    east = await make_customer(client, east_manager)
    west = await make_customer(client, west_manager)
    assert await customer_names(client, supervisor) == [east["name"]]

    moved = await client.patch(f"/api/v1/users/{supervisor.id}", json={"team_id": west_manager.team_id}, headers=admin.headers)
    assert moved.status_code == 200, moved.text
    assert await customer_names(client, supervisor) == [west["name"]]


async def test_a_failed_change_keeps_the_cached_caller(app, client, actors):
    admin = await actors.make("admin")
    me = await actors.make("account_manager")
    await _settled(app, lambda: client.get(CUSTOMERS, headers=me.headers))
    assert_problem(
        await client.patch(f"/api/v1/users/{me.id}", json={"roles": ["wizard"]}, headers=admin.headers),
        422,
        "user.unknown_role",
    )
    with count_statements(app.state.db.engine) as statements:
        assert (await client.get(CUSTOMERS, headers=me.headers)).status_code == 200
    assert not _reads_the_caller(statements)


def _cache(*, size: int = 10, trusted_seconds: float = 60) -> ProcessCache:
    return ProcessCache(PRINCIPAL_CHANNEL, size=size, trusted_seconds=trusted_seconds)


def test_the_cache_keeps_the_most_recently_used_callers_up_to_its_size():
    cache = _cache(size=2)
    for user_id in ("1", "2"):
        cache.put(user_id, f"caller {user_id}", epoch=cache.epoch)
    assert cache.get("1") == "caller 1"  # 2 is now the least recently used
    cache.put("3", "caller 3", epoch=cache.epoch)
    assert (cache.get("1"), cache.get("2"), cache.get("3")) == ("caller 1", None, "caller 3")


def test_a_lookup_that_started_before_a_change_is_not_kept():
    cache = _cache()
    started = cache.epoch
    cache.forget("7")  # committed while the lookup read the rows as they were
    cache.put("7", "as it was", epoch=started)
    assert cache.get("7") is None


def test_forgetting_one_user_or_everyone():
    cache = _cache()
    for user_id in ("1", "2", "3"):
        cache.put(user_id, user_id, epoch=cache.epoch)
    cache.forget("2")
    assert [cache.get(user_id) for user_id in ("1", "2", "3")] == ["1", None, "3"]
    cache.forget(EVERYTHING)
    assert len(cache) == 0
    cache.put("1", "1", epoch=cache.epoch)
    cache.forget(None)  # the listening connection came back: anything may have been missed
    assert len(cache) == 0


async def test_without_notifications_an_entry_is_trusted_for_a_short_while():
    cache = _cache(trusted_seconds=0.05)
    cache.put("1", "caller", epoch=cache.epoch)

    async def expired() -> bool:
        return cache.get("1") is None

    await _until(expired, 2, "the entry to expire")


async def test_another_process_refuses_or_narrows_within_a_second(app, settings, client, actors, tmp_path):
    """A disabled user, a user's revoked tokens, a permission taken from a role: process B, which answered the caller
    from its cache a moment before, follows within a second of process A's commit."""
    postgres = app.state.db.dialect == "postgresql"
    admin = await actors.make("admin")
    role = await client.post(
        "/api/v1/roles",
        json={"code": "reader", "name": "Reader", "permissions": [{"permission": "customers:read", "scope": "all"}]},
        headers=admin.headers,
    )
    assert role.status_code == 201, role.text
    leaver, revoked, reader = [await actors.make(*roles) for roles in (["account_manager"], ["account_manager"], ["reader"])]
    # On PostgreSQL B trusts its cache for ten minutes without a word: only the NOTIFY can make it follow in time.
    environment = {"CRM_PRINCIPAL_CACHE_SECONDS": "600"} if postgres else {}
    within = ANOTHER_PROCESS_SECONDS if postgres else ANOTHER_PROCESS_SECONDS + SQLITE_ALLOWANCE_SECONDS
    async with AsyncExitStack() as stack:
        b = await stack.enter_async_context(crm(settings, tmp_path, "serve", **environment))
        other = await stack.enter_async_context(httpx.AsyncClient(base_url=b.url, timeout=10))

        async def status_in_b(headers: dict[str, str]) -> int:
            return (await other.get(CUSTOMERS, headers=headers)).status_code

        async def b_follows(headers: dict[str, str], refused: int, what: str) -> None:
            async def answered() -> bool:
                return await status_in_b(headers) == refused

            await _until(answered, within, f"process B to answer {refused} {what}")

        if postgres:  # B listens once it has resolved a caller; a first change it follows proves it hears them
            probe = await actors.make("account_manager")
            assert await status_in_b(probe.headers) == 200
            assert (await client.post(f"/api/v1/users/{probe.id}/disable", headers=admin.headers)).status_code == 200
            await b_follows(probe.headers, 401, "once it listens")

        for caller in (leaver, revoked, reader):
            assert await status_in_b(caller.headers) == 200  # now in B's cache

        assert (await client.post(f"/api/v1/users/{leaver.id}/disable", headers=admin.headers)).status_code == 200
        await b_follows(leaver.headers, 401, "to a disabled user")

        changed = await client.patch(
            f"/api/v1/users/{revoked.id}", json={"password": "a-new-long-password"}, headers=admin.headers
        )
        assert changed.status_code == 200, changed.text
        await b_follows(revoked.headers, 401, "to a token issued before the password changed")

        narrowed = await client.patch(
            f"/api/v1/roles/{role.json()['id']}",
            json={"permissions": [{"permission": "products:read", "scope": "all"}]},
            headers=admin.headers,
        )
        assert narrowed.status_code == 200, narrowed.text
        await b_follows(reader.headers, 403, "to a role without customers:read")
