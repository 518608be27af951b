import pytest

from tests.factories import PASSWORD, assert_problem, count_statements

NON_ADMIN_ROLES = ["executive", "sales_supervisor", "account_manager", "marketer"]


def _new_user(**overrides):
    return {"username": "Zhou.Min", "full_name": "周敏", "password": "long-enough-pw", "roles": ["account_manager"]} | overrides


@pytest.mark.parametrize("role", NON_ADMIN_ROLES)
async def test_every_other_role_is_refused_admin_endpoints(client, actors, role):
    caller = await actors.make(role)
    assert_problem(await client.post("/api/v1/users", json=_new_user(), headers=caller.headers), 403, "auth.missing_permission")
    assert_problem(await client.post("/api/v1/teams", json={"name": "T"}, headers=caller.headers), 403)
    assert_problem(await client.post("/api/v1/roles", json={"code": "abc", "name": "A"}, headers=caller.headers), 403)
    assert_problem(await client.post("/api/v1/api-keys", json={"name": "k"}, headers=caller.headers), 403)
    item = {"category": "region", "label": "西藏", "value": "xizang"}
    assert_problem(await client.post("/api/v1/dictionary", json=item, headers=caller.headers), 403)


async def test_admin_creates_a_user_who_can_sign_in(client, actors):
    admin = await actors.make("admin")
    team = await actors.team("华东销售部")
    response = await client.post("/api/v1/users", json=_new_user(team_id=team), headers=admin.headers)
    assert response.status_code == 201
    created = response.json()
    assert created["username"] == "zhou.min" and created["roles"] == ["account_manager"] and created["team_id"] == team
    assert "password" not in created and "password_hash" not in created
    login = await client.post("/api/v1/auth/login", json={"username": "zhou.min", "password": "long-enough-pw"})
    assert login.status_code == 200


async def test_user_creation_rules(client, actors):
    admin = await actors.make("admin", username="boss")
    assert_problem(
        await client.post("/api/v1/users", json=_new_user(username="boss"), headers=admin.headers), 409, "user.username_taken"
    )
    assert_problem(
        await client.post("/api/v1/users", json=_new_user(roles=["wizard"]), headers=admin.headers), 422, "user.unknown_role"
    )
    assert_problem(
        await client.post("/api/v1/users", json=_new_user(roles=["integrator"]), headers=admin.headers), 422, "user.api_key_role"
    )
    assert_problem(
        await client.post("/api/v1/users", json=_new_user(team_id=999), headers=admin.headers), 422, "user.unknown_team"
    )
    listed = (await client.get("/api/v1/users", headers=admin.headers, params={"with_total": True})).json()
    assert listed["total"] == 1  # nothing half-written by the refused requests


async def test_update_user_roles_and_team_is_audited(client, actors):
    admin = await actors.make("admin")
    user = await actors.make("account_manager")
    team = await actors.team("华南销售部")
    response = await client.patch(
        f"/api/v1/users/{user.id}", json={"roles": ["sales_supervisor"], "team_id": team}, headers=admin.headers
    )
    assert response.status_code == 200
    assert response.json()["roles"] == ["sales_supervisor"]
    events = (
        await client.get("/api/v1/audit-events", params={"entity_type": "user", "entity_id": user.id}, headers=admin.headers)
    ).json()
    update = events["items"][0]
    assert update["action"] == "update" and update["actor_id"] == admin.id
    assert update["changes"]["roles"] == {"before": ["account_manager"], "after": ["sales_supervisor"]}
    assert update["changes"]["team_id"] == {"before": None, "after": team}
    assert update["request_id"]


async def test_update_user_refuses_emptying_required_fields(client, actors):
    admin = await actors.make("admin")
    user = await actors.make("account_manager")
    response = await client.patch(f"/api/v1/users/{user.id}", json={"full_name": None}, headers=admin.headers)
    assert_problem(response, 422, "validation_failed")


async def test_password_change_takes_effect_and_is_not_audited_in_clear(client, actors):
    admin = await actors.make("admin")
    user = await actors.make("account_manager", username="pw.user")
    await client.patch(f"/api/v1/users/{user.id}", json={"password": "brand-new-secret"}, headers=admin.headers)
    assert (await client.post("/api/v1/auth/login", json={"username": "pw.user", "password": PASSWORD})).status_code == 401
    assert (
        await client.post("/api/v1/auth/login", json={"username": "pw.user", "password": "brand-new-secret"})
    ).status_code == 200
    events = (
        await client.get("/api/v1/audit-events", params={"entity_type": "user", "entity_id": user.id}, headers=admin.headers)
    ).json()
    assert "brand-new-secret" not in str(events) and "password_hash" not in str(events)


async def test_admin_cannot_disable_themselves(client, actors):
    admin = await actors.make("admin")
    assert_problem(await client.post(f"/api/v1/users/{admin.id}/disable", headers=admin.headers), 409, "user.cannot_disable_self")


async def test_supervisor_reads_users_but_an_account_manager_does_not(client, actors):
    supervisor = await actors.make("sales_supervisor", team="East")
    manager = await actors.make("account_manager", team="East")
    assert (await client.get(f"/api/v1/users/{manager.id}", headers=supervisor.headers)).status_code == 200
    assert_problem(await client.get("/api/v1/users", headers=manager.headers), 403)


async def test_missing_user_is_404(client, actors):
    admin = await actors.make("admin")
    assert_problem(await client.get("/api/v1/users/4242", headers=admin.headers), 404, "user.not_found")


async def test_user_list_filters_and_pages_with_a_cursor(client, actors):
    admin = await actors.make("admin")
    for _ in range(25):
        await actors.make("account_manager", team="East")
    await actors.make("marketer")
    seen, cursor = [], None
    while True:
        params = {"role": "account_manager", "limit": 10} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/api/v1/users", params=params, headers=admin.headers)).json()
        seen += [u["id"] for u in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 25 == len(set(seen))
    assert seen == sorted(seen, reverse=True)
    assert_problem(
        await client.get("/api/v1/users", params={"cursor": "garbage!"}, headers=admin.headers), 422, "pagination.invalid_cursor"
    )


async def test_a_page_of_users_shows_each_as_their_own_record_does_in_one_statement(app, client, actors):
    admin = await actors.make("admin")
    await actors.make("sales_supervisor", "account_manager", team="East")
    await actors.make("marketer")
    await actors.make("executive", team="East")
    with count_statements(app.state.db.engine) as statements:
        page = (await client.get("/api/v1/users", params={"limit": 10}, headers=admin.headers)).json()
    assert len([s for s in statements if "role_permissions" not in s]) == 1  # the caller's resolution aside
    assert [len(u["roles"]) for u in page["items"]] == [1, 1, 2, 1]
    for listed in page["items"]:
        assert listed == (await client.get(f"/api/v1/users/{listed['id']}", headers=admin.headers)).json()
    assert page["items"][2]["roles"] == ["account_manager", "sales_supervisor"] and page["items"][2]["team_name"] == "East"


async def test_teams_create_rename_and_list_members(client, actors):
    admin = await actors.make("admin")
    created = await client.post("/api/v1/teams", json={"name": "华北销售部"}, headers=admin.headers)
    assert created.status_code == 201
    team_id = created.json()["id"]
    assert_problem(await client.post("/api/v1/teams", json={"name": "华北销售部"}, headers=admin.headers), 409, "team.name_taken")
    await actors.make("account_manager", team="华北销售部", username="member.one")
    renamed = await client.patch(f"/api/v1/teams/{team_id}", json={"name": "北方销售部"}, headers=admin.headers)
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "北方销售部"
    assert [m["username"] for m in renamed.json()["members"]] == ["member.one"]


async def test_builtin_roles_are_listed_and_cannot_be_changed(client, actors):
    admin = await actors.make("admin")
    roles = (await client.get("/api/v1/roles", headers=admin.headers)).json()
    codes = {r["code"] for r in roles}
    assert {"admin", "executive", "sales_supervisor", "account_manager", "marketer", "integrator"} <= codes
    manager_role = next(r for r in roles if r["code"] == "account_manager")
    assert {"permission": "customers:read", "scope": "own"} in manager_role["permissions"]
    assert_problem(
        await client.patch(f"/api/v1/roles/{manager_role['id']}", json={"name": "x"}, headers=admin.headers), 409, "role.builtin"
    )


async def test_custom_role_grants_exactly_its_permissions(client, actors):
    admin = await actors.make("admin")
    body = {"code": "auditor", "name": "Auditor", "permissions": [{"permission": "audit:read", "scope": "all"}]}
    role = await client.post("/api/v1/roles", json=body, headers=admin.headers)
    assert role.status_code == 201
    auditor = await actors.make("auditor")
    assert (await client.get("/api/v1/audit-events", headers=auditor.headers)).status_code == 200
    assert_problem(await client.get("/api/v1/users", headers=auditor.headers), 403)

    bad = {"code": "broken", "name": "B", "permissions": [{"permission": "launch:missiles", "scope": "all"}]}
    problem = assert_problem(await client.post("/api/v1/roles", json=bad, headers=admin.headers), 422, "role.unknown_permission")
    assert problem["errors"][0]["field"] == "permissions.0.permission"

    changed = await client.patch(f"/api/v1/roles/{role.json()['id']}", json={"permissions": []}, headers=admin.headers)
    assert changed.json()["permissions"] == []
    assert_problem(await client.get("/api/v1/audit-events", headers=auditor.headers), 403)


async def test_api_key_secret_is_shown_once_and_authenticates(client, actors):
    admin = await actors.make("admin")
    issued = await client.post("/api/v1/api-keys", json={"name": "ERP"}, headers=admin.headers)
    assert issued.status_code == 201
    secret = issued.json()["secret"]
    listed = (await client.get("/api/v1/api-keys", headers=admin.headers)).json()
    assert listed[0]["role"] == "integrator" and "secret" not in listed[0]
    # An integrator is authenticated but holds none of the user permissions.
    assert_problem(await client.get("/api/v1/users", headers={"X-API-Key": secret}), 403, "auth.missing_permission")
    assert_problem(await client.get("/api/v1/users", headers={"X-API-Key": secret + "x"}), 401, "auth.invalid_api_key")

    assert (await client.delete(f"/api/v1/api-keys/{issued.json()['id']}", headers=admin.headers)).status_code == 204
    assert_problem(await client.get("/api/v1/users", headers={"X-API-Key": secret}), 401, "auth.invalid_api_key")
