"""Every operation of the committed contract, fuzzed by schemathesis against a real server, as admin and as an
account manager: no 500, and every status, content type, header and body is the one the contract documents."""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import repo_root
from tests.platform.test_idempotency_crash import server

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
ON_POSTGRES = os.environ.get("CRM_TEST_DATABASE_URL", "").startswith("postgresql")
EXAMPLES = int(os.environ.get("CRM_TEST_CONTRACT_EXAMPLES", "50" if ON_POSTGRES else "12"))

PHASES = os.environ.get("CRM_TEST_CONTRACT_PHASES", "examples,coverage,fuzzing").split(",")
config = schemathesis.Config.from_dict(
    {"phases": {phase: {"enabled": phase in PHASES} for phase in ("examples", "coverage", "fuzzing", "stateful")}}
)
contract = schemathesis.openapi.from_path(repo_root() / "openapi" / "openapi.json", config=config)
CALLS = []
if os.environ.get("CRM_TEST_CONTRACT_ONLY"):
    contract = contract.include(path_regex=os.environ["CRM_TEST_CONTRACT_ONLY"], method="GET")


@pytest.fixture(scope="module")
async def live_url(settings, tmp_path_factory):
    async with server(settings, tmp_path_factory.mktemp("contract")) as (client, _):
        yield str(client.base_url)


@pytest.fixture
async def callers(actors):
    admin = await actors.make("admin")
    manager = await actors.make("account_manager")
    return [admin.headers, manager.headers]


@contract.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    # The database is cleaned once per operation, not per example: the examples share it on purpose.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_every_operation_keeps_its_contract(case, live_url, callers):
    for headers in callers:
        CALLS.append(1)
        case.call_and_validate(base_url=live_url, headers=headers, checks=CHECKS)
    if os.environ.get("CRM_TEST_CONTRACT_COUNT"):
        print("CALLS", len(CALLS))
