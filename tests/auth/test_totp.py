from datetime import timedelta

import pyotp

from crm_api.core.clock import clock
from tests.factories import PASSWORD, assert_problem

AUTH = "/api/v1/auth"


def _code(secret, offset=timedelta(0)):
    return pyotp.TOTP(secret).at(clock.now() + offset)


async def _login(client, username, otp=None, password=PASSWORD):
    body = {"username": username, "password": password} | ({"otp": otp} if otp is not None else {})
    return await client.post(f"{AUTH}/login", json=body)


async def _with_totp(client, actors, username="li.na"):
    """A user with the second factor on: (actor, secret, recovery codes)."""
    user = await actors.make("account_manager", username=username)
    setup = await client.post(f"{AUTH}/totp/setup", headers=user.headers)
    assert setup.status_code == 200, setup.text
    secret = setup.json()["secret"]
    enabled = await client.post(f"{AUTH}/totp/enable", json={"code": _code(secret)}, headers=user.headers)
    assert enabled.status_code == 200, enabled.text
    clock.advance(timedelta(seconds=30))  # the enabling code is spent; the next step's code is fresh
    return user, secret, enabled.json()["recovery_codes"]


async def test_setup_gives_a_secret_and_a_provisioning_uri_that_is_not_yet_active(client, actors, frozen_clock):
    assert_problem(await client.post(f"{AUTH}/totp/setup"), 401)
    user = await actors.make("account_manager", username="li.na")
    body = (await client.post(f"{AUTH}/totp/setup", headers=user.headers)).json()
    assert body["provisioning_uri"].startswith("otpauth://totp/")
    assert pyotp.parse_uri(body["provisioning_uri"]).secret == body["secret"]
    assert (await _login(client, "li.na")).status_code == 200


async def test_enable_needs_a_right_code_and_returns_ten_recovery_codes_once(client, actors, frozen_clock):
    user = await actors.make("account_manager", username="li.na")
    assert_problem(
        await client.post(f"{AUTH}/totp/enable", json={"code": "123456"}, headers=user.headers), 409, "auth.totp_not_set_up"
    )
    secret = (await client.post(f"{AUTH}/totp/setup", headers=user.headers)).json()["secret"]
    wrong = str((int(_code(secret)) + 1) % 1_000_000).zfill(6)
    assert_problem(await client.post(f"{AUTH}/totp/enable", json={"code": wrong}, headers=user.headers), 422, "auth.invalid_otp")
    assert (await _login(client, "li.na")).status_code == 200  # still off
    assert (await client.get(f"{AUTH}/me", headers=user.headers)).json()["totp_enabled"] is False
    enabled = await client.post(f"{AUTH}/totp/enable", json={"code": _code(secret)}, headers=user.headers)
    codes = enabled.json()["recovery_codes"]
    assert len(codes) == len(set(codes)) == 10
    assert (await client.get(f"{AUTH}/me", headers=user.headers)).json()["totp_enabled"] is True
    assert_problem(await client.post(f"{AUTH}/totp/setup", headers=user.headers), 409, "auth.totp_already_enabled")


async def test_login_with_the_second_factor_on(client, actors, frozen_clock):
    _, secret, _ = await _with_totp(client, actors)
    assert_problem(await _login(client, "li.na"), 401, "auth.otp_required")
    assert_problem(await _login(client, "li.na", "000000" if _code(secret) != "000000" else "111111"), 401, "auth.invalid_otp")
    # A wrong password still says only that, and never asks for the code.
    assert_problem(await _login(client, "li.na", password="wrong"), 401, "auth.invalid_credentials")
    code = _code(secret)
    assert (await _login(client, "li.na", code)).status_code == 200
    # The same code does not work twice.
    assert_problem(await _login(client, "li.na", code), 401, "auth.invalid_otp")
    # One step of clock drift is tolerated.
    clock.advance(timedelta(seconds=30))
    assert (await _login(client, "li.na", _code(secret, timedelta(seconds=-30)))).status_code == 401
    assert (await _login(client, "li.na", _code(secret, timedelta(seconds=30)))).status_code == 200


async def test_oauth2_form_takes_the_code_too(client, actors, frozen_clock):
    _, secret, _ = await _with_totp(client, actors)
    form = {"username": "li.na", "password": PASSWORD}
    assert_problem(await client.post(f"{AUTH}/token", data=form), 401, "auth.otp_required")
    assert (await client.post(f"{AUTH}/token", data=form | {"otp": _code(secret)})).status_code == 200


async def test_a_recovery_code_works_once(client, actors, frozen_clock):
    _, _, codes = await _with_totp(client, actors)
    assert (await _login(client, "li.na", codes[0].upper())).status_code == 200
    assert_problem(await _login(client, "li.na", codes[0]), 401, "auth.invalid_otp")
    assert (await _login(client, "li.na", codes[1])).status_code == 200


async def test_wrong_codes_count_toward_the_lockout(client, actors, frozen_clock):
    _, secret, _ = await _with_totp(client, actors)
    for _ in range(5):
        assert_problem(await _login(client, "li.na", "not-a-code"), 401, "auth.invalid_otp")
    assert_problem(await _login(client, "li.na", _code(secret)), 429, "auth.too_many_attempts")
    clock.advance(timedelta(minutes=16))
    assert (await _login(client, "li.na", _code(secret))).status_code == 200


async def test_the_prompt_for_the_code_counts_no_failure(client, actors, frozen_clock):
    await _with_totp(client, actors)
    for _ in range(6):  # more than the lockout allows: the right password gives its check back each time
        assert_problem(await _login(client, "li.na"), 401, "auth.otp_required")
    assert_problem(await _login(client, "li.na", password="wrong"), 401, "auth.invalid_credentials")


async def test_disable_needs_password_and_code(client, actors, frozen_clock):
    user, secret, _ = await _with_totp(client, actors)
    url = f"{AUTH}/totp/disable"
    assert_problem(
        await client.post(url, json={"password": "wrong", "code": _code(secret)}, headers=user.headers),
        422,
        "auth.invalid_password",
    )
    assert_problem(
        await client.post(url, json={"password": PASSWORD, "code": "nope"}, headers=user.headers), 422, "auth.invalid_otp"
    )
    ok = await client.post(url, json={"password": PASSWORD, "code": _code(secret)}, headers=user.headers)
    assert ok.status_code == 204
    assert (await _login(client, "li.na")).status_code == 200
    assert_problem(
        await client.post(url, json={"password": PASSWORD, "code": _code(secret)}, headers=user.headers),
        409,
        "auth.totp_not_enabled",
    )


async def test_admin_resets_a_users_second_factor_audited(client, actors, frozen_clock):
    user, _, _ = await _with_totp(client, actors)
    admin = await actors.make("admin")
    supervisor = await actors.make("sales_supervisor")
    url = f"/api/v1/users/{user.id}/totp/reset"
    assert_problem(await client.post(url), 401)
    assert_problem(await client.post(url, headers=supervisor.headers), 403, "auth.missing_permission")
    assert_problem(await client.post("/api/v1/users/999999/totp/reset", headers=admin.headers), 404)
    assert (await client.post(url, headers=admin.headers)).status_code == 204
    assert (await _login(client, "li.na")).status_code == 200
    assert_problem(await client.post(url, headers=admin.headers), 409, "auth.totp_not_enabled")

    events = (
        await client.get("/api/v1/audit-events", params={"entity_type": "user", "entity_id": str(user.id)}, headers=admin.headers)
    ).json()["items"]
    by_action = {event["action"]: event for event in events}
    assert by_action["totp_reset"]["actor_id"] == admin.id
    assert by_action["totp_reset"]["changes"] == {"totp_enabled": {"before": True, "after": False}}
    assert by_action["totp_enable"]["actor_id"] == user.id
