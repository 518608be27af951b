"""The edge of the API: bad input is a 422 (never a 500), oversized bodies a 413, and the security headers."""

import base64
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from crm_api.main import create_app
from tests.factories import PASSWORD, assert_problem

CUSTOMERS = "/api/v1/customers"
LOGIN = "/api/v1/auth/login"
BAD_IDS = [0, -1, 2**63, 10**30]


def _cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


JSON = {"Content-Type": "application/json"}
NEW_USER = {"username": "newbie", "full_name": "New Bie", "password": "correct-horse-battery-9", "roles": ["account_manager"]}

# label: (method, path, request options, the field the 422 names). Each is sent by an admin and must write nothing.
PROBES = {
    "nul in a body field": ("POST", CUSTOMERS, {"json": {"name": "Acme\x00Co"}}, "name"),
    "nul in a nested body list": ("POST", CUSTOMERS, {"json": {"name": "Acme", "tags": ["ok", "b\x00d"]}}, "tags"),
    "nul in a body dict key": ("POST", CUSTOMERS, {"json": {"name": "Acme", "custom_fields": {"k\x00": "v"}}}, "custom_fields"),
    "nul in a query": ("GET", CUSTOMERS, {"params": {"q": "a\x00b"}}, "query"),
    "nul in a path": ("GET", f"{CUSTOMERS}/1%00", {}, "path"),
    "nul in a login": ("POST", LOGIN, {"json": {"username": "root\x00", "password": "x"}}, "username"),
    "nul in a token form": ("POST", "/api/v1/auth/token", {"data": {"username": "root\x00", "password": "x"}}, "username"),
    "invalid utf-8 body": ("POST", CUSTOMERS, {"content": b'{"name": "\xff\xfe"}', "headers": JSON}, "body"),
    "infinite custom field": (
        "POST",
        CUSTOMERS,
        {"content": b'{"name": "A", "custom_fields": {"x": 1e309}}', "headers": JSON},
        "custom_fields",
    ),
    **{f"path id {bad}": ("GET", f"{CUSTOMERS}/{bad}", {}, "customer_id") for bad in BAD_IDS},
    **{f"second path id {bad}": ("DELETE", f"{CUSTOMERS}/1/contacts/{bad}", {}, "contact_id") for bad in BAD_IDS},
    **{f"query id {bad}": ("GET", CUSTOMERS, {"params": {"owner_id": bad}}, "owner_id") for bad in BAD_IDS},
    **{f"body id {bad}": ("POST", "/api/v1/users", {"json": NEW_USER | {"team_id": bad}}, "team_id") for bad in BAD_IDS},
    **{
        f"body id list {bad}": ("POST", f"{CUSTOMERS}/bulk-update", {"json": {"ids": [bad], "set": {"level": "major"}}}, "ids")
        for bad in BAD_IDS
    },
    "cursor [1e309]": ("GET", CUSTOMERS, {"params": {"cursor": _cursor(b"[1e309]")}}, "cursor"),
    "cursor of 2^63": ("GET", CUSTOMERS, {"params": {"cursor": _cursor(f"[{2**63}]".encode())}}, "cursor"),
    "cursor 10,000 deep": ("GET", CUSTOMERS, {"params": {"cursor": _cursor(b"[" * 10_000 + b"]" * 10_000)}}, "cursor"),
    "cursor garbage": ("GET", CUSTOMERS, {"params": {"cursor": "!!not-base64!!"}}, "cursor"),
    "cursor of the wrong shape": ("GET", CUSTOMERS, {"params": {"cursor": _cursor(b'{"a": 1}')}}, "cursor"),
}


async def _count(client: httpx.AsyncClient, headers: dict[str, str], path: str) -> int:
    response = await client.get(path, params={"with_total": "true"}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["total"]


@pytest.mark.parametrize("probe", PROBES.values(), ids=PROBES.keys())
async def test_bad_input_is_a_422_problem_and_writes_nothing(client, actors, probe):
    admin = await actors.make("admin")
    method, path, options, field = probe
    users = await _count(client, admin.headers, "/api/v1/users")
    response = await client.request(method, path, **options | {"headers": admin.headers | options.get("headers", {})})
    body = assert_problem(response, 422)
    assert any(error["field"].startswith(field) for error in body["errors"]), body
    assert await _count(client, admin.headers, CUSTOMERS) == 0
    assert await _count(client, admin.headers, "/api/v1/users") == users


def test_every_id_parameter_in_the_contract_is_bounded(app):
    """The Id type is on every path and query id: a new route that forgets it fails here."""
    unbounded = []
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                schema = parameter["schema"].get("anyOf", [parameter["schema"]])[0]
                bounds = (schema.get("minimum"), schema.get("maximum"))
                if parameter["name"].endswith("_id") and schema["type"] == "integer" and bounds != (1, 2**63 - 1):
                    unbounded.append(f"{method.upper()} {path} {parameter['name']}")
    assert unbounded == []


async def test_a_valid_cursor_still_pages(client, actors):
    admin = await actors.make("admin")
    for name in ("Alpha", "Beta"):
        assert (await client.post(CUSTOMERS, json={"name": name}, headers=admin.headers)).status_code == 201
    first = (await client.get(CUSTOMERS, params={"limit": 1}, headers=admin.headers)).json()
    second = await client.get(CUSTOMERS, params={"limit": 1, "cursor": first["next_cursor"]}, headers=admin.headers)
    assert [c["name"] for c in first["items"] + second.json()["items"]] == ["Beta", "Alpha"]


async def test_an_oversized_streamed_login_is_refused_before_it_is_read(client):
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(100):  # 100 MiB if it were all read
            sent += 1
            yield b" " * (1024 * 1024)

    response = await client.post(LOGIN, content=endless(), headers={"Content-Type": "application/json"})
    assert_problem(response, 413, "request.too_large")
    assert sent <= 11  # the 10 MiB default, and the chunk that crossed it


@pytest.fixture
async def small_limit_client(settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"max_body_bytes": 1024, "document_max_bytes": 4096}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        yield http
    await app.state.db.dispose()


async def test_a_declared_oversized_body_is_refused_and_uploads_keep_their_own_limit(small_limit_client, actors):
    client = small_limit_client
    manager = await actors.make("account_manager")
    # The declared Content-Length alone decides: the routes never see the body.
    big = b'{"name": "' + b"x" * 2000 + b'"}'
    refused = await client.post(CUSTOMERS, content=big, headers=manager.headers | {"Content-Type": "application/json"})
    assert_problem(refused, 413, "request.too_large")
    assert refused.headers["x-request-id"]
    with_key = await client.post(
        CUSTOMERS, content=big, headers=manager.headers | {"Content-Type": "application/json", "Idempotency-Key": "k1"}
    )
    assert_problem(with_key, 413, "request.too_large")
    created = await client.post(CUSTOMERS, json={"name": "Acme"}, headers=manager.headers)
    assert created.status_code == 201, created.text
    # 2 KiB of document: over CRM_MAX_BODY_BYTES, within CRM_DOCUMENT_MAX_BYTES.
    pdf = b"%PDF-1.4\n" + b"0" * 2048
    upload = await client.post(
        f"{CUSTOMERS}/{created.json()['id']}/documents",
        files={"file": ("offer.pdf", pdf, "application/pdf")},
        headers=manager.headers,
    )
    assert upload.status_code == 201, upload.text


async def test_every_response_carries_the_security_headers(client):
    for response in (await client.get("/health/live"), await client.get("/api/v1/auth/me"), await client.get("/nowhere")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert "strict-transport-security" not in response.headers
        assert "server" not in response.headers


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_load_every_asset_from_the_service_itself(client, page):
    response = await client.get(page)
    assert response.status_code == 200
    urls = re.findall(r"<(?:script|link|img)\b[^>]*\b(?:src|href)=[\"']([^\"']+)", response.text)
    assert any(url.endswith(".js") for url in urls), urls
    for url in urls:
        parsed = urlsplit(url)
        assert parsed.hostname in (None, "localhost", "127.0.0.1", "::1"), url
        asset = await client.get(parsed.path)
        assert asset.status_code == 200, url
    policy = response.headers["content-security-policy"]
    assert "http" not in policy, policy
    assert "'unsafe-inline'" in policy.split("script-src", 1)[1].split(";")[0]


async def test_the_root_leads_to_the_docs(client):
    response = await client.get("/")
    assert response.status_code == 307
    assert response.headers["location"] == "/docs"


async def test_token_responses_are_not_cached(client, actors):
    admin = await actors.make("admin")
    login = await client.post(LOGIN, json={"username": admin.username, "password": PASSWORD})
    assert login.status_code == 200, login.text
    assert login.headers["cache-control"] == "no-store"
    refreshed = await client.post("/api/v1/auth/refresh", json={"refresh_token": login.json()["refresh_token"]})
    assert refreshed.headers["cache-control"] == "no-store"
    issued = await client.post("/api/v1/api-keys", json={"name": "ERP"}, headers=admin.headers)
    assert issued.status_code == 201, issued.text
    assert issued.headers["cache-control"] == "no-store"


async def _get(app, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        return await http.get(path)


@pytest.mark.parametrize("overrides", [{"public_docs": False}, {"env": "prod"}], ids=["setting", "production"])
async def test_docs_and_the_contract_close_with_the_setting_or_in_production(settings, overrides):
    app = create_app(settings.model_copy(update=overrides))
    try:
        for path in ("/docs", "/redoc", "/openapi.json", "/docs/assets/swagger-ui-bundle.js"):
            assert_problem(await _get(app, path), 404)
        index = await _get(app, "/")
        assert index.status_code == 200
        assert index.json()["api"] == "/api/v1"
    finally:
        await app.state.db.dispose()


async def test_production_opens_docs_when_asked_and_sends_hsts(settings):
    app = create_app(settings.model_copy(update={"env": "prod", "public_docs": True}))
    try:
        response = await _get(app, "/openapi.json")
        assert response.status_code == 200
        assert response.headers["strict-transport-security"].startswith("max-age=")
    finally:
        await app.state.db.dispose()


@pytest.mark.parametrize(
    ("cell", "code"),
    [("x" * 200_000, "customer_import.unreadable"), ("Acme\x00Co", "customer_import.invalid_rows")],
    ids=["cell over the csv field limit", "nul in a cell"],
)
async def test_an_unreadable_import_cell_is_a_422(client, actors, cell, code):
    manager = await actors.make("account_manager")
    csv_file = f"name,region\n{cell},shanghai\n".encode()
    response = await client.post(
        f"{CUSTOMERS}/import", files={"file": ("customers.csv", csv_file, "text/csv")}, headers=manager.headers
    )
    assert_problem(response, 422, code)
    assert await _count(client, manager.headers, CUSTOMERS) == 0


async def test_an_undeclared_http2_body_is_counted_as_it_streams(settings, actors):
    """HTTP/1 frames a request without Content-Length or Transfer-Encoding as bodiless; HTTP/2 may stream a body
    without declaring it, and the guard counts that one too."""
    app = create_app(settings.model_copy(update={"max_body_bytes": 1024}))
    manager = await actors.make("account_manager")
    chunks = [b'{"name": "', b"x" * 1000, b"x" * 1000, b'"}']
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        chunk = chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    token = manager.headers["Authorization"].encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "2",
        "method": "POST",
        "scheme": "http",
        "path": CUSTOMERS,
        "raw_path": CUSTOMERS.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"), (b"authorization", token)],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    await app(scope, receive, send)
    await app.state.db.dispose()
    assert statuses == [413]
    assert chunks == [b'"}']  # read up to the chunk that crossed the limit, and no further
