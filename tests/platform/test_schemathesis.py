"""Every operation of the committed contract, fuzzed by schemathesis against a real server, as an admin and as an
account manager: no 500, and every status, content type, header and body is one the contract documents.

CRM_TEST_CONTRACT_EXAMPLES sets the generated examples per operation (20 on PostgreSQL, 12 on SQLite by default, to keep CI under 30 minutes; 50 for a thorough run),
each sent as one of the two callers, after the schema's own examples and schemathesis' coverage cases
(boundaries, wrong types, missing fields)."""

import os
import zlib

import pytest

from tests.conftest import repo_root
from tests.platform.test_idempotency_crash import server

# A dev dependency (`make install`); a venv from before it was added skips rather than fails to collect.
schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402  (schemathesis brings hypothesis)
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
ON_POSTGRESQL = os.environ.get("CRM_TEST_DATABASE_URL", "").startswith("postgresql")
EXAMPLES = int(os.environ.get("CRM_TEST_CONTRACT_EXAMPLES", "20" if ON_POSTGRESQL else "12"))

contract = schemathesis.openapi.from_path(repo_root() / "openapi" / "openapi.json")


@pytest.fixture(scope="module")
async def live_url(settings, tmp_path_factory):
    async with server(settings, tmp_path_factory.mktemp("contract")) as (client, _):
        yield str(client.base_url)


CALLERS = ("admin", "account_manager")


@pytest.fixture
async def callers(actors):
    return {role: (await actors.make(role)).headers for role in CALLERS}


def caller_of(case) -> str:
    """Half the cases go as each caller; a case always as the same one, so a failure reproduces."""
    drawn = repr((case.path_parameters, case.query, case.headers, case.body)).encode()
    return CALLERS[zlib.crc32(drawn) % len(CALLERS)]


@contract.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,  # the same cases on every run, so a failure is a change and not luck
    deadline=None,  # a real server on a shared machine: time is measured by the whole test, not per example
    # The database is emptied once per operation, not per example: the examples of an operation share it on purpose.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_every_operation_keeps_its_contract(case, live_url, callers):
    case.call_and_validate(base_url=live_url, headers=callers[caller_of(case)], checks=CHECKS)
