from datetime import timedelta

from crm_api.core.clock import clock
from tests.factories import PASSWORD, assert_problem


async def _login(client, username, password=PASSWORD):
    return await client.post("/api/v1/auth/login", json={"username": username, "password": password})


async def test_login_returns_a_token_pair_that_authenticates(client, actors):
    user = await actors.make("account_manager", username="li.na", team="east")
    response = await _login(client, "LI.NA")
    assert response.status_code == 200
    tokens = response.json()
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 15 * 60
    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200
    assert me.json()["id"] == user.id
    assert me.json()["roles"] == ["account_manager"]
    assert me.json()["permissions"]["customers:read"] == "own"
    assert (me.json()["username"], me.json()["team"]["name"], me.json()["totp_enabled"]) == ("li.na", "east", False)


async def test_oauth2_form_login_for_swagger(client, actors):
    await actors.make("admin", username="root")
    response = await client.post("/api/v1/auth/token", data={"username": "root", "password": PASSWORD})
    assert response.status_code == 200
    assert response.json()["access_token"]


async def test_wrong_password_and_unknown_user_look_the_same(client, actors):
    await actors.make("admin", username="root")
    wrong = assert_problem(await _login(client, "root", "nope"), 401, "auth.invalid_credentials")
    unknown = assert_problem(await _login(client, "ghost", "nope"), 401, "auth.invalid_credentials")
    assert wrong["detail"] == unknown["detail"]


async def test_missing_or_bad_token_is_401(client):
    assert_problem(await client.get("/api/v1/auth/me"), 401, "auth.not_authenticated")
    bad = await client.get("/api/v1/auth/me", headers={"Authorization": "Bearer not-a-jwt"})
    assert_problem(bad, 401, "auth.invalid_token")
    assert bad.headers["www-authenticate"] == "Bearer"


async def test_access_token_expires(client, actors, frozen_clock):
    user = await actors.make("admin")
    # Accepted first, so the worker has verified it already: expiry is still checked on each request.
    assert (await client.get("/api/v1/auth/me", headers=user.headers)).status_code == 200
    clock.advance(timedelta(minutes=16))
    assert_problem(await client.get("/api/v1/auth/me", headers=user.headers), 401, "auth.invalid_token")


async def test_refresh_rotates_and_reuse_revokes_the_family(client, actors):
    await actors.make("admin", username="root")
    first = (await _login(client, "root")).json()
    second = await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]

    reused = await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert_problem(reused, 401, "auth.refresh_token_reused")
    # The whole family is gone, including the token issued by the legitimate rotation.
    after = await client.post("/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert_problem(after, 401, "auth.invalid_refresh_token")


async def test_logout_revokes_the_refresh_token(client, actors):
    await actors.make("admin", username="root")
    tokens = (await _login(client, "root")).json()
    assert (await client.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]})).status_code == 204
    refused = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert_problem(refused, 401, "auth.invalid_refresh_token")


async def test_five_failures_lock_the_username_for_fifteen_minutes(client, actors, frozen_clock):
    await actors.make("admin", username="root")
    for _ in range(5):
        assert_problem(await _login(client, "root", "wrong"), 401)
        clock.advance(timedelta(seconds=30))
    locked = assert_problem(await _login(client, "root"), 429, "auth.too_many_attempts")
    assert locked["status"] == 429
    response = await _login(client, "root")
    retry_after = int(response.headers["retry-after"])
    assert 0 < retry_after <= 15 * 60
    clock.advance(timedelta(seconds=retry_after))
    assert (await _login(client, "root")).status_code == 200


async def test_lockout_does_not_reveal_whether_the_user_exists(client, frozen_clock):
    for _ in range(5):
        assert_problem(await _login(client, "nobody", "wrong"), 401, "auth.invalid_credentials")
    assert_problem(await _login(client, "nobody", "wrong"), 429, "auth.too_many_attempts")


async def test_failures_spread_beyond_the_window_do_not_lock(client, actors, frozen_clock):
    await actors.make("admin", username="root")
    for _ in range(5):
        await _login(client, "root", "wrong")
        clock.advance(timedelta(minutes=4))
    assert (await _login(client, "root")).status_code == 200


async def test_a_success_resets_the_failure_count(client, actors, frozen_clock):
    await actors.make("admin", username="root")
    for _ in range(4):
        await _login(client, "root", "wrong")
    assert (await _login(client, "root")).status_code == 200
    for _ in range(4):
        await _login(client, "root", "wrong")
    assert (await _login(client, "root")).status_code == 200


async def test_disabled_user_is_refused_at_once(client, actors, frozen_clock):
    admin = await actors.make("admin")
    await actors.make("account_manager", username="leaver")
    tokens = (await _login(client, "leaver")).json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await client.get("/api/v1/auth/me", headers=bearer)).status_code == 200

    users = (await client.get("/api/v1/users", params={"q": "leaver"}, headers=admin.headers)).json()["items"]
    assert (await client.post(f"/api/v1/users/{users[0]['id']}/disable", headers=admin.headers)).status_code == 200

    assert_problem(await client.get("/api/v1/auth/me", headers=bearer), 401, "auth.invalid_token")
    assert_problem(await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}), 401)
    assert_problem(await _login(client, "leaver"), 401, "auth.invalid_credentials")

    # Enabling again does not revive tokens issued before the disable.
    clock.advance(timedelta(seconds=2))
    assert (await client.post(f"/api/v1/users/{users[0]['id']}/enable", headers=admin.headers)).status_code == 200
    assert_problem(await client.get("/api/v1/auth/me", headers=bearer), 401, "auth.invalid_token")
    assert (await _login(client, "leaver")).status_code == 200
