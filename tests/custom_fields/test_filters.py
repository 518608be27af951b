"""`?cf.<key>=` on the lists of every entity with custom fields: equality, ranges, choices, and 422 on what cannot apply."""

import pytest
from fastapi.routing import APIRoute

from crm_api.core.query import accepted_prefixes
from crm_api.main import DOMAIN_ROUTERS
from tests.custom_fields.factories import define_field
from tests.custom_fields.test_values import create, every_type
from tests.customers.factories import BASE as CUSTOMERS
from tests.customers.factories import make_contact, make_customer
from tests.factories import assert_problem
from tests.leads.factories import API as LEADS
from tests.opportunities.factories import API as OPPORTUNITIES
from tests.tickets.factories import URL as TICKETS

LISTS = {"customer": CUSTOMERS, "lead": LEADS, "opportunity": OPPORTUNITIES, "ticket": TICKETS}


async def names_of(client, actor, url, params):
    response = await client.get(url, params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    return sorted(item["custom_fields"].get("erp_no") for item in response.json()["items"])


@pytest.mark.parametrize("entity", sorted(LISTS))
async def test_each_list_filters_by_its_custom_fields(client, actors, entity):
    admin = await actors.make("admin")
    await every_type(client, admin, entity)
    records = [
        {"erp_no": "A", "employees": 10, "capital": "100.5", "founded": "2001-01-01", "listed": True, "hq": "shanghai",
         "markets": ["beijing", "shanghai"]},
        {"erp_no": "B", "employees": 20, "capital": "200", "founded": "2010-06-30", "listed": False, "hq": "beijing",
         "markets": ["shanghai"]},
        {"erp_no": "C", "employees": 30.5, "capital": "300.25", "founded": "2020-12-31"},
    ]  # fmt: skip
    for values in records:
        response = await create(client, admin, entity, values)
        assert response.status_code == 201, response.text
    url = LISTS[entity]
    assert await names_of(client, admin, url, {"cf.erp_no": "B"}) == ["B"]
    assert await names_of(client, admin, url, {"cf.employees": "20.0"}) == ["B"]
    assert await names_of(client, admin, url, {"cf.capital": "100.50"}) == ["A"]
    assert await names_of(client, admin, url, {"cf.listed": "false"}) == ["B"]
    assert await names_of(client, admin, url, {"cf.hq": "上海"}) == ["A"]
    assert await names_of(client, admin, url, {"cf.markets": "shanghai"}) == ["A", "B"]
    assert await names_of(client, admin, url, [("cf.markets", "shanghai"), ("cf.markets", "beijing")]) == ["A"]
    assert await names_of(client, admin, url, {"cf.employees.gte": "20", "cf.employees.lte": "30.5"}) == ["B", "C"]
    assert await names_of(client, admin, url, {"cf.capital.gte": "150", "cf.capital.lte": "300.25"}) == ["B", "C"]
    assert await names_of(client, admin, url, {"cf.founded.lte": "2010-06-30"}) == ["A", "B"]
    assert await names_of(client, admin, url, {"cf.founded.gte": "2010-07-01", "cf.erp_no": "C"}) == ["C"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cf.nickname": "x"}, "cf.nickname"),
        ({"cf.employees": "many"}, "cf.employees"),
        ({"cf.erp_no.gte": "A"}, "cf.erp_no.gte"),
        ({"cf.employees.between": "1"}, "cf.employees.between"),
        ({"cf.hq": "mars"}, "cf.hq"),
    ],
)
async def test_a_filter_that_cannot_apply_is_a_422_on_its_parameter(client, actors, params, field):
    admin = await actors.make("admin")
    await define_field(client, admin, "customer", "erp_no")
    await define_field(client, admin, "customer", "employees", "number")
    await define_field(client, admin, "customer", "hq", "choice", dictionary_category="region")
    for url in (CUSTOMERS, f"{CUSTOMERS}/export", "/api/v1/customer-pool"):
        problem = assert_problem(await client.get(url, params=params, headers=admin.headers), 422, "custom_field.invalid_filter")
        assert [error["field"] for error in problem["errors"]] == [field]


async def test_filters_keep_the_data_scope_and_apply_to_the_pool_and_contacts(client, actors):
    admin = await actors.make("admin")
    mine, other = await actors.make("account_manager"), await actors.make("account_manager")
    await define_field(client, admin, "customer", "erp_no")
    await define_field(client, admin, "contact", "erp_no")
    customer = await make_customer(client, mine, name="甲", custom_fields={"erp_no": "A"})
    await make_customer(client, other, name="乙", custom_fields={"erp_no": "A"})
    assert await names_of(client, mine, CUSTOMERS, {"cf.erp_no": "A"}) == ["A"]
    assert await names_of(client, admin, CUSTOMERS, {"cf.erp_no": "A"}) == ["A", "A"]
    await client.post(f"{CUSTOMERS}/{customer['id']}/release", json={"reason": "不再跟进"}, headers=mine.headers)
    assert await names_of(client, other, "/api/v1/customer-pool", {"cf.erp_no": "A"}) == ["A"]
    assert await names_of(client, other, "/api/v1/customer-pool", {"cf.erp_no": "B"}) == []
    owned = await make_customer(client, mine, name="丙")
    await make_contact(client, mine, owned["id"], custom_fields={"erp_no": "C1"})
    await make_contact(client, mine, owned["id"], name="王强", custom_fields={"erp_no": "C2"})
    assert await names_of(client, mine, f"{CUSTOMERS}/{owned['id']}/contacts", {"cf.erp_no": "C2"}) == ["C2"]
    interactions = await client.get(f"{CUSTOMERS}/{owned['id']}/interactions", params={"cf.erp_no": "x"}, headers=mine.headers)
    assert_problem(interactions, 422, "custom_field.invalid_filter")


async def test_list_descriptions_document_the_cf_parameters(client):
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in (
        "/api/v1/customers",
        "/api/v1/leads",
        "/api/v1/opportunities",
        "/api/v1/service-tickets",
        "/api/v1/customer-pool",
    ):
        assert "cf.<key>" in paths[path]["get"]["description"], path


def test_the_lists_with_custom_fields_declare_the_cf_family_through_the_core_hook():
    """What an unknown-query-parameter check asks: which names a route takes beyond its declared ones."""
    accepting = {
        (route.path, method)
        for router in DOMAIN_ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute) and "cf." in accepted_prefixes(route.dependant)
        for method in route.methods
    }
    assert accepting == {
        ("/customers", "GET"),
        ("/customers/export", "GET"),
        ("/customer-pool", "GET"),
        ("/customers/{customer_id}/contacts", "GET"),
        ("/customers/{customer_id}/interactions", "GET"),  # answers 422: interactions have no custom fields
        ("/leads", "GET"),
        ("/opportunities", "GET"),
        ("/service-tickets", "GET"),
    }
