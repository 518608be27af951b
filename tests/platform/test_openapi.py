import json
import re

import pytest
from fastapi import FastAPI

from crm_api.core.responses import error_contract, raises
from crm_api.main import create_app
from crm_api.problems import catalogue
from tests.conftest import make_settings, repo_root
from tests.routes import api_routes


def test_committed_contract_matches_the_app():
    committed = json.loads((repo_root() / "openapi" / "openapi.json").read_text(encoding="utf-8"))
    current = create_app(make_settings("sqlite+aiosqlite:///unused.db")).openapi()
    assert committed == json.loads(json.dumps(current)), "run `make openapi` and commit openapi/openapi.json"


def test_every_operation_documents_a_summary_and_its_errors():
    schema = create_app(make_settings("sqlite+aiosqlite:///unused.db")).openapi()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary"), f"{method.upper()} {path} has no summary"
            if path.startswith("/api/v1"):
                documented = {int(code) for code in operation["responses"] if code.isdigit()}
                assert documented & {401, 404, 409, 422}, f"{method.upper()} {path} documents no errors"


def test_operation_ids_read_as_verbs_and_are_unique():
    schema = create_app(make_settings("sqlite+aiosqlite:///unused.db")).openapi()
    operation_ids = [operation["operationId"] for operations in schema["paths"].values() for operation in operations.values()]
    assert len(operation_ids) == len(set(operation_ids))
    assert all(re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)*", operation_id) for operation_id in operation_ids), operation_ids
    assert {"listCustomers", "winOpportunity", "updateCustomer", "login"} <= set(operation_ids)


def test_every_error_is_documented_as_the_problem_json_it_is():
    schema = create_app(make_settings("sqlite+aiosqlite:///unused.db")).openapi()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert "errors" in schema["components"]["schemas"]["ValidationProblem"]["required"]
    assert "current" in schema["components"]["schemas"]["StaleProblem"]["properties"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    expected = {"422": "ValidationProblem", "412": "StaleProblem"}.get(status, "Problem")
                    assert response["content"] == {
                        "application/problem+json": {"schema": {"$ref": f"#/components/schemas/{expected}"}}
                    }, f"{method.upper()} {path} {status}"


def _operations(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


# Their responses carry credentials, stored nowhere, or they commit in transactions of their own, which a key kept in
# the request's transaction cannot make happen once.
UNKEPT_WRITES = {
    ("post", "/api/v1/api-keys"),
    *(("post", f"/api/v1/auth/{action}") for action in ("login", "token", "refresh", "logout")),
    *(("post", f"/api/v1/auth/totp/{action}") for action in ("setup", "enable", "disable")),
    ("post", "/api/v1/churn-warnings/scan"),
    ("post", "/api/v1/imports"),  # a queued import runs in transactions of its own once answered
    ("post", "/api/v1/jobs/{name}/run"),
    ("post", "/api/v1/segments/rfm/refresh"),
}


def test_every_write_declares_the_optional_idempotency_key():
    schema = create_app(make_settings("sqlite+aiosqlite:///unused.db")).openapi()
    for path, method, operation in _operations(schema):
        if path.startswith("/api/v1") and method in {"post", "put", "patch", "delete"} and (method, path) not in UNKEPT_WRITES:
            [key] = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
            assert key["in"] == "header" and key["required"] is False, f"{method.upper()} {path}"
            assert {"409", "422"} <= operation["responses"].keys(), f"{method.upper()} {path}"
        else:
            assert all(p["name"] != "Idempotency-Key" for p in operation.get("parameters", [])), f"{method.upper()} {path}"


def test_headers_are_declared_where_they_are_sent():
    schema = create_app(make_settings("sqlite+aiosqlite:///unused.db")).openapi()
    etagged, located = set(), set()
    for path, method, operation in _operations(schema):
        responses = operation["responses"]
        where = f"{method.upper()} {path}"
        if "requestBody" in operation:
            assert "413" in responses, where
        for status in ("429", "503"):
            if status in responses:
                assert "Retry-After" in responses[status]["headers"], where
        conditional = any(p["name"] == "If-None-Match" for p in operation.get("parameters", []))
        assert conditional == ("ETag" in responses.get("200", {}).get("headers", {})) == ("304" in responses), where
        if conditional:
            assert method == "get" and path.endswith("}"), where
            etagged.add(path)
        if "Location" in responses.get("201", {}).get("headers", {}):
            record_urls = [other for other, ops in schema["paths"].items() if "get" in ops]
            assert method == "post", where
            assert any(re.fullmatch(re.escape(path) + r"/\{[^/]+\}", url) for url in record_urls), where
            located.add(path)
    assert {"/api/v1/customers/{customer_id}", "/api/v1/opportunities/{opportunity_id}", "/api/v1/orders/{order_id}"} <= etagged
    assert {"/api/v1/customers", "/api/v1/customers/{customer_id}/contacts", "/api/v1/leads"} <= located


def test_no_route_hand_lists_its_error_statuses(app):
    """Error statuses come from what a route depends on and declares with `raises` (`crm_api.core.responses`)."""
    hand_listed = [
        f"{sorted(route.methods)} {path}: {sorted(status for status in route.responses if int(status) >= 400)}"
        for path, route in api_routes(app)
        if any(int(status) >= 400 for status in route.responses)
    ]
    assert hand_listed == []


def _codes(response):
    return set(re.findall(r"`([^`]+)`", response["description"]))


def test_each_error_status_lists_the_codes_the_route_answers_it_with():
    schema = create_app(make_settings("sqlite+aiosqlite:///unused.db")).openapi()
    for path, method, operation in _operations(schema):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                codes = _codes(response)
                assert codes, f"{method.upper()} {path} {status} names no code"
                assert all(int(status) in catalogue.statuses(code) for code in codes), f"{method.upper()} {path} {status}"
    update = schema["paths"]["/api/v1/customers/{customer_id}"]["patch"]["responses"]
    assert {"auth.not_authenticated", "auth.invalid_token"} <= _codes(update["401"])
    assert _codes(update["403"]) == {"auth.missing_permission"}  # require(...)
    assert _codes(update["404"]) == {"customer.not_found"}  # {customer_id}
    assert _codes(update["412"]) == {"precondition.etag_mismatch"}  # If-Match
    assert {"conflict.concurrent_change", "idempotency.in_progress"} <= _codes(update["409"])
    assert _codes(update["503"]) == {"database.unavailable"}  # the unit of work
    assert "customer.duplicate" in _codes(schema["paths"]["/api/v1/customers"]["post"]["responses"]["409"])
    assert _codes(schema["paths"]["/api/v1/sync"]["get"]["responses"]["410"]) == {"sync.token_expired"}  # an error class


def test_a_route_declaring_a_code_nothing_raises_breaks_the_contract():
    app = FastAPI()
    error_contract(app, catalogue.statuses)

    @app.get("/typo")
    @raises("customer.duplicat")
    async def typo() -> None: ...

    with pytest.raises(ValueError, match=r"customer\.duplicat"):
        app.openapi()
