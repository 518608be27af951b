"""Routing: a domain's router refuses at once a path outside its segments, and every operation is still reached."""

import re

from crm_api.core.routing import first_segments_pattern

ROUTER_LEVEL = {"not_found", "method_not_allowed"}  # what the app answers when no route took the request


def test_a_first_segment_is_found_only_as_a_whole_segment():
    pattern = first_segments_pattern(["/customers/{customer_id}", "/customers", "/customer-pool/claims"])
    assert pattern is not None
    assert pattern.search("/api/v1/customers/7")
    assert pattern.search("/api/v1/customers")
    assert pattern.search("/api/v1/customer-pool/claims")
    assert not pattern.search("/api/v1/customers-export")
    assert not pattern.search("/api/v1/contracts/7")


def test_a_router_with_a_route_at_its_root_or_under_a_parameter_refuses_nothing():
    assert first_segments_pattern(["/customers", "/{anything}/x"]) is None
    assert first_segments_pattern(["", "/customers"]) is None
    assert first_segments_pattern([]) is None


async def test_every_operation_of_the_contract_is_reached_by_its_own_path_and_starts(app, client):
    paths = app.openapi()["paths"]
    unreached = []
    for template, operations in paths.items():
        path = re.sub(r"\{[^}]*\}", "1", template)
        for method in operations:
            response = await client.request(method.upper(), path)
            problem = response.headers.get("content-type", "").startswith("application/problem+json")
            code = response.json()["code"] if problem else None
            # A 5xx would be a route that cannot even start (its SessionDep without a unit of work, say).
            if code in ROUTER_LEVEL or response.status_code >= 500:
                unreached.append(f"{method.upper()} {template}: {response.status_code} {code}")
    assert sum(len(operations) for operations in paths.values()) > 200
    assert unreached == []


async def test_a_path_no_router_serves_is_a_404_and_a_known_path_with_another_method_a_405(client):
    assert (await client.get("/api/v1/customers-export")).json()["code"] == "not_found"
    assert (await client.delete("/api/v1/problems")).json()["code"] == "method_not_allowed"
