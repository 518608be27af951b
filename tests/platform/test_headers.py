"""The headers the contract declares, sent: Location on a 201, 304 for If-None-Match, Idempotency-Key kept."""

import pytest

from tests.factories import assert_problem
from tests.leads.factories import create_lead

CUSTOMERS = "/api/v1/customers"


async def test_a_created_record_is_where_location_says(client, actors):
    manager = await actors.make("account_manager")
    created = await client.post(CUSTOMERS, json={"name": "Huaxin"}, headers=manager.headers)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"{CUSTOMERS}/{created.json()['id']}"
    fetched = await client.get(created.headers["location"], headers=manager.headers)
    assert fetched.json() == created.json()
    contact = await client.post(
        f"{CUSTOMERS}/{created.json()['id']}/contacts",
        json={"name": "陈静", "gender": "female", "title": "采购经理", "office_phone": "021-62345679"},
        headers=manager.headers,
    )
    assert contact.status_code == 201, contact.text
    assert (await client.get(contact.headers["location"], headers=manager.headers)).status_code == 200


async def test_a_201_without_a_record_url_sends_no_location(client, actors):
    manager = await actors.make("account_manager")
    lead = await create_lead(client, manager)
    logged = await client.post(f"/api/v1/leads/{lead['id']}/activities", json={"kind": "call"}, headers=manager.headers)
    assert logged.status_code == 201, logged.text
    assert "location" not in logged.headers


async def test_a_key_issued_is_located_and_read_without_its_secret(client, actors):
    admin = await actors.make("admin")
    issued = await client.post("/api/v1/api-keys", json={"name": "ERP"}, headers=admin.headers)
    assert issued.status_code == 201, issued.text
    read = await client.get(issued.headers["location"], headers=admin.headers)
    assert read.status_code == 200 and read.json()["prefix"] == issued.json()["prefix"]
    assert "secret" not in read.json()


async def test_if_none_match_answers_304_while_the_record_is_unchanged(client, actors):
    manager = await actors.make("account_manager")
    customer = (await client.post(CUSTOMERS, json={"name": "Huaxin"}, headers=manager.headers)).json()
    url = f"{CUSTOMERS}/{customer['id']}"
    tag = (await client.get(url, headers=manager.headers)).headers["etag"]
    unchanged = await client.get(url, headers=manager.headers | {"If-None-Match": f'W/"x", W/{tag}'})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["etag"] == tag
    updated = await client.patch(url, json={"name": "Huaxin Ltd"}, headers=manager.headers)
    assert updated.status_code == 200, updated.text
    changed = await client.get(url, headers=manager.headers | {"If-None-Match": tag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != tag
    # Scope and existence still come first: no 304 tells an outsider the record is there.
    outsider = await actors.make("account_manager")
    assert_problem(await client.get(url, headers=outsider.headers | {"If-None-Match": "*"}), 404)


async def test_a_replayed_create_repeats_its_location(client, actors):
    manager = await actors.make("account_manager")
    headers = manager.headers | {"Idempotency-Key": "create-huaxin-1"}
    first = await client.post(CUSTOMERS, json={"name": "Huaxin"}, headers=headers)
    again = await client.post(CUSTOMERS, json={"name": "Huaxin"}, headers=headers)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]


async def test_the_served_contract_documents_the_idempotency_key(client):
    operation = (await client.get("/openapi.json")).json()["paths"][CUSTOMERS]["post"]
    [key] = [parameter for parameter in operation["parameters"] if parameter["name"] == "Idempotency-Key"]
    assert (key["in"], key["required"]) == ("header", False)
    assert "Location" in operation["responses"]["201"]["headers"]


@pytest.mark.parametrize(
    ("url", "code", "outsider"),
    [
        ("/api/v1/api-keys/{id}", "api_key.not_found", "account_manager"),
        ("/api/v1/dictionary/{id}", "dictionary_item.not_found", None),
        ("/api/v1/lead-assignment-rules/{id}", "assignment_rule.not_found", "integrator"),
        ("/api/v1/ticket-routing-rules/{id}", "routing_rule.not_found", "marketer"),
        ("/api/v1/opportunities/{id}/plan-items/{id}", "opportunity.not_found", "marketer"),
    ],
)
async def test_the_records_a_201_locates_are_read_like_any_other(client, actors, url, code, outsider):
    missing = url.format(id=999999)
    assert_problem(await client.get(missing), 401)
    if outsider is not None:
        assert_problem(await client.get(missing, headers=(await actors.make(outsider)).headers), 403)
    assert_problem(await client.get(missing, headers=(await actors.make("admin")).headers), 404, code)
