"""The problem catalogue: every `type` an error names is a page on the service, read from the code that raises it."""

import re

from crm_api.core.errors import DomainError
from crm_api.problems.catalogue import catalogue, lookup
from tests.conftest import repo_root
from tests.factories import assert_problem


def _error_classes(cls: type[DomainError] = DomainError) -> list[type[DomainError]]:
    return [sub for direct in cls.__subclasses__() for sub in (direct, *_error_classes(direct))]


def test_every_literal_code_in_the_source_is_catalogued():
    source = "\n".join(path.read_text(encoding="utf-8") for path in (repo_root() / "src" / "crm_api").rglob("*.py"))
    literal_codes = set(re.findall(r'\bcode="([a-z_.]+)"', source))
    assert len(literal_codes) > 50
    assert not {code for code in literal_codes if lookup(code) is None}


def test_the_catalogue_holds_class_codes_core_codes_and_rule_tables():
    problems = catalogue()
    assert {cls.code for cls in _error_classes()} <= problems.keys()
    # core/errors, pagination, idempotency, auth, a RuleTable refusal, a pattern
    for code, status in [
        ("internal_error", 500),
        ("conflict.duplicate", 409),
        ("method_not_allowed", 405),
        ("pagination.invalid_cursor", 422),
        ("idempotency.key_reused", 422),
        ("auth.invalid_token", 401),
        ("auth.missing_permission", 403),
        ("task.not_open", 409),
        ("customer.not_found", 404),
    ]:
        entry = lookup(code)
        assert entry is not None and status in entry.statuses, code
    assert problems["task.not_open"].occurs == ["The task is {status}; only open tasks change"]
    assert "data scope" in (problems["not_found"].description or "")
    assert lookup("customer.not_a_code") is None


async def test_every_catalogued_code_resolves_on_the_service(client):
    listed = await client.get("/api/v1/problems")
    assert listed.status_code == 200
    assert [entry["code"] for entry in listed.json()] == list(catalogue())
    for entry in listed.json():
        page = await client.get(entry["type"])
        assert page.status_code == 200, entry["type"]
        assert page.headers["content-type"].startswith("text/html")
        assert entry["code"] in page.text
    conflicts = await client.get("/api/v1/problems", params={"status": 409})
    assert conflicts.json() and all(409 in entry["statuses"] for entry in conflicts.json())
    one = await client.get("/api/v1/problems/customer.not_found")
    assert one.json()["code"] == "{entity}.not_found"
    assert_problem(await client.get("/api/v1/problems/nothing.like_this"), 404, "problem_type.not_found")
    assert_problem(await client.get("/problems/nothing.like_this"), 404)


async def test_the_type_of_a_real_404_and_422_resolves(client, actors):
    admin = await actors.make("admin")
    missing = assert_problem(await client.get("/api/v1/customers/999999", headers=admin.headers), 404)
    invalid = assert_problem(await client.get("/api/v1/customers", params={"limit": 0}, headers=admin.headers), 422)
    bad_cursor = assert_problem(await client.get("/api/v1/customers", params={"cursor": "x"}, headers=admin.headers), 422)
    for problem in (missing, invalid, bad_cursor):
        assert problem["type"] == f"/problems/{problem['code']}"
        page = await client.get(problem["type"])
        assert page.status_code == 200, problem["type"]
        assert problem["code"] in page.text or "{entity}.not_found" in page.text
