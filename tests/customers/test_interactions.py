import pytest

from tests.customers.factories import (
    BASE,
    audit_of,
    churn,
    make_customer,
    make_interaction,
    record_of_new_customer,
    two_managers,
)
from tests.factories import assert_problem


async def test_interaction_endpoints_need_auth_and_permission(client, actors):
    manager = await actors.make("account_manager")
    marketer = await actors.make("marketer")
    executive = await actors.make("executive")
    _, url = await record_of_new_customer(client, manager, "interactions")
    assert_problem(await client.get(url), 401)
    assert_problem(await client.get(url, headers=marketer.headers), 403)
    assert (await client.get(url, headers=executive.headers)).status_code == 200
    assert_problem(await client.patch(url, json={"notes": "x"}, headers=executive.headers), 403)


async def test_record_list_newest_first_and_get(client, actors):
    manager = await actors.make("account_manager")
    customer = await make_customer(client, manager)
    older = await make_interaction(client, manager, customer["id"], occurred_on="2026-05-01", summary="初次拜访")
    newer = await make_interaction(client, manager, customer["id"], occurred_on="2026-06-10", summary="签约洽谈", notes="带合同")
    await make_interaction(client, manager, customer["id"], occurred_on="2026-05-20", summary="技术交流")
    assert newer["created_by_id"] == manager.id and newer["notes"] == "带合同"
    listed = (await client.get(f"{BASE}/{customer['id']}/interactions", headers=manager.headers)).json()
    assert [i["summary"] for i in listed["items"]] == ["签约洽谈", "技术交流", "初次拜访"]
    fetched = await client.get(f"{BASE}/{customer['id']}/interactions/{older['id']}", headers=manager.headers)
    assert fetched.json() == older and fetched.headers["etag"]


@pytest.mark.parametrize("missing", ["occurred_on", "location", "summary", "details"])
async def test_required_fields_on_create(client, actors, missing):
    manager = await actors.make("account_manager")
    customer = await make_customer(client, manager)
    body = {"occurred_on": "2026-06-01", "location": "上海", "summary": "回访", "details": "细节"}
    del body[missing]
    url = f"{BASE}/{customer['id']}/interactions"
    assert_problem(await client.post(url, json=body, headers=manager.headers), 422, "validation_failed")
    assert_problem(await client.post(url, json=body | {missing: " "}, headers=manager.headers), 422)
    assert (await client.get(url, headers=manager.headers)).json()["items"] == []


@pytest.mark.parametrize("field", ["occurred_on", "location", "summary", "details"])
async def test_required_fields_cannot_be_emptied(client, actors, field):
    manager = await actors.make("account_manager")
    interaction, url = await record_of_new_customer(client, manager, "interactions")
    assert_problem(await client.patch(url, json={field: None}, headers=manager.headers), 422)
    if field != "occurred_on":
        assert_problem(await client.patch(url, json={field: ""}, headers=manager.headers), 422)
    assert (await client.get(url, headers=manager.headers)).json() == interaction


async def test_update_and_delete_are_audited(client, actors):
    manager = await actors.make("account_manager")
    admin = await actors.make("admin")
    interaction, url = await record_of_new_customer(client, manager, "interactions")
    response = await client.patch(url, json={"summary": "年度回访", "notes": "客户满意"}, headers=manager.headers)
    assert response.status_code == 200
    assert response.json()["summary"] == "年度回访" and response.json()["details"] == interaction["details"]
    assert (await client.delete(url, headers=manager.headers)).status_code == 204
    assert_problem(await client.get(url, headers=manager.headers), 404, "interaction.not_found")
    events = await audit_of(client, admin, "interaction", interaction["id"])
    assert [e["action"] for e in events] == ["create", "update", "delete"]
    assert events[1]["changes"]["summary"] == {"before": "季度回访", "after": "年度回访"}


async def test_stale_if_match_is_412(client, actors):
    manager = await actors.make("account_manager")
    _, url = await record_of_new_customer(client, manager, "interactions")
    etag = (await client.get(url, headers=manager.headers)).headers["etag"]
    assert (await client.patch(url, json={"notes": "a"}, headers=manager.headers | {"If-Match": etag})).status_code == 200
    assert_problem(await client.patch(url, json={"notes": "b"}, headers=manager.headers | {"If-Match": etag}), 412)


async def test_another_managers_interaction_is_404(client, actors):
    a, b = await two_managers(actors)
    interaction, url = await record_of_new_customer(client, a, "interactions")
    assert_problem(await client.get(url, headers=b.headers), 404, "customer.not_found")
    assert_problem(await client.patch(url, json={"notes": "x"}, headers=b.headers), 404)
    assert_problem(await client.delete(url, headers=b.headers), 404)
    assert (await client.get(url, headers=a.headers)).json() == interaction


async def test_interaction_of_another_customer_is_404(client, actors):
    manager = await actors.make("account_manager")
    interaction, _ = await record_of_new_customer(client, manager, "interactions")
    other = await make_customer(client, manager, name="Y公司")
    under_other = f"{BASE}/{other['id']}/interactions/{interaction['id']}"
    assert_problem(await client.get(under_other, headers=manager.headers), 404, "interaction.not_found")
    assert_problem(await client.delete(under_other, headers=manager.headers), 404, "interaction.not_found")


async def test_interactions_of_a_churned_customer_are_read_only(client, actors, app):
    manager = await actors.make("account_manager")
    interaction, url = await record_of_new_customer(client, manager, "interactions")
    await churn(app, interaction["customer_id"])
    assert_problem(await client.patch(url, json={"notes": "x"}, headers=manager.headers), 409, "customer.not_active")
    body = {"occurred_on": "2026-06-01", "location": "上海", "summary": "回访", "details": "细节"}
    response = await client.post(f"{BASE}/{interaction['customer_id']}/interactions", json=body, headers=manager.headers)
    assert_problem(response, 409, "customer.not_active")


async def test_interaction_pages_follow_the_date_then_id_order(client, actors):
    manager = await actors.make("account_manager")
    customer = await make_customer(client, manager)
    for day, summary in [(3, "c"), (1, "a"), (3, "d"), (2, "b"), (1, "a2")]:
        await make_interaction(client, manager, customer["id"], occurred_on=f"2026-06-0{day}", summary=summary)
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(f"{BASE}/{customer['id']}/interactions", params=params, headers=manager.headers)).json()
        seen += [item["summary"] for item in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == ["d", "c", "b", "a2", "a"]


async def test_a_new_interaction_names_its_customer_and_its_author_as_they_are_now(client, actors):
    manager = await actors.make("account_manager")
    admin = await actors.make("admin")
    customer = await make_customer(client, manager)
    first = await make_interaction(client, manager, customer["id"])
    assert (first["customer_name"], first["created_by_name"]) == (customer["name"], manager.username.title())
    renamed = await client.patch(f"/api/v1/users/{manager.id}", json={"full_name": "王芳"}, headers=admin.headers)
    assert renamed.status_code == 200, renamed.text
    # The author's next interaction, and the first one read again, show the name they have now.
    assert (await make_interaction(client, manager, customer["id"]))["created_by_name"] == "王芳"
    fetched = await client.get(f"{BASE}/{customer['id']}/interactions/{first['id']}", headers=manager.headers)
    assert fetched.json()["created_by_name"] == "王芳"
