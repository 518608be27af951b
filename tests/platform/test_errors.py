import pytest
from fastapi import FastAPI

from crm_api.core.auth import resolves_the_caller
from crm_api.main import create_app
from tests.conftest import make_settings
from tests.factories import assert_problem
from tests.routes import api_routes

# Routes anyone may call: signing in needs no token, and the problem catalogue explains errors to anyone.
PUBLIC_ROUTES = {
    ("GET", "/api/v1/problems"),
    ("GET", "/api/v1/problems/{code}"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/token"),
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/auth/logout"),
}


def test_every_api_route_requires_an_authenticated_caller(app: FastAPI):
    unguarded = []
    for path, route in api_routes(app):
        if not path.startswith("/api/v1"):
            continue
        for method in route.methods:
            if (method, path) not in PUBLIC_ROUTES and not resolves_the_caller(route.dependant):
                unguarded.append(f"{method} {path}")
    assert unguarded == []


async def test_malformed_json_is_a_422_problem(client, actors):
    admin = await actors.make("admin")
    response = await client.post(
        "/api/v1/teams", content=b'{"name": ', headers=admin.headers | {"Content-Type": "application/json"}
    )
    body = assert_problem(response, 422, "validation_failed")
    assert body["errors"][0]["type"] == "json_invalid"


async def test_wrong_types_and_unknown_fields_are_422_with_field_errors(client, actors):
    admin = await actors.make("admin")
    response = await client.post(
        "/api/v1/users",
        json={"username": "x", "full_name": 3, "password": "short", "roles": [], "status": "active"},
        headers=admin.headers,
    )
    body = assert_problem(response, 422, "validation_failed")
    fields = {error["field"] for error in body["errors"]}
    assert {"username", "full_name", "password", "roles", "status"} <= fields
    assert any(e["field"] == "status" and e["type"] == "extra_forbidden" for e in body["errors"])


async def test_bad_query_parameters_are_422(client, actors):
    admin = await actors.make("admin")
    assert_problem(await client.get("/api/v1/users?limit=1000", headers=admin.headers), 422, "validation_failed")
    assert_problem(await client.get("/api/v1/users/abc", headers=admin.headers), 422, "validation_failed")


async def test_unknown_route_is_a_404_problem(client):
    assert_problem(await client.get("/api/v1/no-such-thing"), 404, "not_found")


async def test_every_response_carries_a_request_id(client):
    first = await client.get("/health/live")
    assert len(first.headers["x-request-id"]) >= 16
    echoed = await client.get("/health/live", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    refused = await client.get("/health/live", headers={"X-Request-ID": "bad id\twith spaces"})
    assert refused.headers["x-request-id"] != "bad id\twith spaces"


async def test_problem_bodies_carry_the_request_id(client):
    response = await client.get("/api/v1/auth/me", headers={"X-Request-ID": "trace-42"})
    assert assert_problem(response, 401)["request_id"] == "trace-42"


async def test_an_unexpected_error_is_a_500_without_internals(settings):
    import httpx

    app = create_app(settings)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get("/boom")
    body = assert_problem(response, 500, "internal_error")
    assert "hunter2" not in response.text and "RuntimeError" not in response.text
    assert body["request_id"]
    await app.state.db.dispose()


@pytest.mark.parametrize(
    "unreachable",
    ["sqlite+aiosqlite:///{tmp}/missing/dir/crm.db", "postgresql+asyncpg://postgres@127.0.0.1:1/crm"],
    ids=["sqlite-unopenable", "postgresql-refused"],
)
async def test_an_unreachable_database_gives_503s_not_500s(tmp_path, unreachable):
    import httpx

    from crm_api.core.security import create_access_token

    settings = make_settings(unreachable.format(tmp=tmp_path))
    app = create_app(settings)
    token, _ = create_access_token(settings, user_id=1)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        assert_problem(await http.get("/health/ready"), 503, "database.unavailable")
        data = await http.get("/api/v1/users", headers={"Authorization": f"Bearer {token}"})
        assert_problem(data, 503, "database.unavailable")
        assert data.headers["retry-after"] == "5"
        login = await http.post("/api/v1/auth/login", json={"username": "a", "password": "b"})
        assert_problem(login, 503, "database.unavailable")
        assert (await http.get("/health/live")).status_code == 200
    await app.state.db.dispose()


async def test_ready_answers_when_the_database_is_up(client):
    response = await client.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.parametrize("secret", ["", "short", "dev-only-secret-key-do-not-use-in-production!"])
def test_production_refuses_to_start_without_a_real_secret(secret):
    from pydantic import ValidationError

    from crm_api.core.config import Settings

    with pytest.raises(ValidationError, match="CRM_SECRET_KEY"):
        Settings(_env_file=None, env="prod", secret_key=secret)
    assert Settings(_env_file=None, env="prod", secret_key="x" * 32).env == "prod"
