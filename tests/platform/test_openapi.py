import json
import re

from crm_api.main import create_app
from tests.conftest import make_settings, repo_root


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
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    expected = "ValidationProblem" if status == "422" else "Problem"
                    assert response["content"] == {
                        "application/problem+json": {"schema": {"$ref": f"#/components/schemas/{expected}"}}
                    }, f"{method.upper()} {path} {status}"
