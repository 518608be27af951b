"""Routing: a domain's router refuses at once a path outside its segments, and every operation is still reached."""

import re

from fastapi import FastAPI
from starlette.routing import compile_path

from crm_api.core.routing import routes_pattern
from tests.routes import api_routes

ROUTER_LEVEL = {"not_found", "method_not_allowed"}  # what the app answers when no route took the request


def test_a_router_is_searched_for_its_whole_templates_under_any_prefix():
    pattern = routes_pattern(["/customers/{customer_id}", "/customers", "/customers/{customer_id}/orders"])
    assert pattern is not None
    assert pattern.search("/api/v1/customers/7")
    assert pattern.search("/api/v1/customers")
    assert pattern.search("/api/v1/customers/7/orders")
    assert not pattern.search("/api/v1/customers/7/contacts")
    assert not pattern.search("/api/v1/customers-export")
    assert not pattern.search("/api/v1/customers/7/orders/3")
    assert not pattern.search("/api/v1/contracts/7")


def test_a_template_with_a_typed_parameter_matches_what_its_route_does():
    pattern = routes_pattern(["/files/{name:path}", "/pages/{number:int}"])
    assert pattern is not None
    assert pattern.search("/api/v1/files/a/b/c.pdf")
    assert pattern.search("/api/v1/pages/12")
    assert not pattern.search("/api/v1/pages/twelve")


def test_a_router_holding_a_route_without_a_path_refuses_nothing():
    assert routes_pattern(["", "/customers"]) is None
    assert routes_pattern([]) is None


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


def test_every_operation_is_reached_by_its_own_route_whatever_the_routers_order(app: FastAPI):
    """FastAPI gives a request to the first route, in the order the app includes them, whose method and path match;
    main.DOMAIN_ROUTERS is ordered for speed. A path made from each operation's template (every parameter `1`) must
    reach that operation, not an earlier one whose template also matches it (`/customers/export` read as the
    customer `export`)."""
    routes = [(route, compile_path(path)[0]) for path, route in api_routes(app)]
    taken = []
    for path, route in api_routes(app):
        sample = re.sub(r"\{[^}]+\}", "1", path)
        for method in sorted(route.methods):
            first = next(other for other, pattern in routes if method in other.methods and pattern.match(sample))
            if first is not route:
                taken.append(f"{method} {path} goes to {first.path}")
    assert len(routes) > 200
    assert taken == []
