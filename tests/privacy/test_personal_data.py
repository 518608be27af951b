from tests.customers.factories import BASE, audit_of, make_contact, make_customer, make_interaction, two_managers
from tests.factories import assert_problem
from tests.privacy.factories import make_order, privacy_officer

PII_CUSTOMER = {
    "address": "上海市徐汇区漕溪北路88号",
    "email": "info@huaxin.example",
    "bank": "招商银行",
    "bank_account": "6225880212345678",
    "legal_representative": "王伟",
}
PII_CONTACT = {"name": "陈静", "mobile": "13812345678", "email": "chen.jing@huaxin.example", "notes": "喜欢早上联系"}


async def _customer_with_history(app, client, owner):
    """A customer with personal data in its profile, one contact (changed once), an interaction, a consent, orders."""
    customer = await make_customer(client, owner, **PII_CUSTOMER)
    contact = await make_contact(client, owner, customer["id"], **PII_CONTACT)
    contact_url = f"{BASE}/{customer['id']}/contacts/{contact['id']}"
    changed = await client.patch(contact_url, json={"mobile": "13900001111"}, headers=owner.headers)
    assert changed.status_code == 200, changed.text
    interaction = await make_interaction(client, owner, customer["id"], details="陈静说她下月离职")
    consent = await client.post(
        f"{contact_url}/consents",
        json={"purpose": "marketing_email", "granted": True, "source": "官网表单"},
        headers=owner.headers,
    )
    assert consent.status_code == 201
    await make_order(app, customer["id"], "1200.50", "SO-1")
    await make_order(app, customer["id"], "99.50", "SO-2")
    return customer, contact, interaction, contact_url


async def test_customer_export_holds_everything_stored(app, client, actors):
    owner, other = await two_managers(actors)
    customer, contact, interaction, _ = await _customer_with_history(app, client, owner)
    url = f"{BASE}/{customer['id']}/personal-data"
    assert_problem(await client.get(url), 401)
    assert_problem(await client.get(url, headers=(await actors.make("marketer")).headers), 403)
    assert_problem(await client.get(url, headers=other.headers), 404, "customer.not_found")

    data = (await client.get(url, headers=owner.headers)).json()
    assert data["customer"]["bank_account"] == "6225880212345678"
    assert [c["id"] for c in data["contacts"]] == [contact["id"]]
    assert data["contacts"][0]["mobile"] == "13900001111" and data["contacts"][0]["marketing_consent"] is True
    assert [i["details"] for i in data["interactions"]] == ["陈静说她下月离职"]
    assert [(c["contact_id"], c["purpose"]) for c in data["consents"]] == [(contact["id"], "marketing_email")]
    assert data["orders"]["count"] == 2 and data["orders"]["total"] == "1300.00"
    about = {(e["entity_type"], e["entity_id"], e["action"]) for e in data["audit_events"]}
    assert {
        ("customer", str(customer["id"]), "create"),
        ("contact", str(contact["id"]), "update"),
        ("interaction", str(interaction["id"]), "create"),
        ("contact", str(contact["id"]), "consent_grant"),
    } <= about


async def test_contact_export(app, client, actors):
    owner, other = await two_managers(actors)
    customer, contact, _, contact_url = await _customer_with_history(app, client, owner)
    second = await make_contact(client, owner, customer["id"], name="李雷")
    assert_problem(await client.get(f"{contact_url}/personal-data", headers=other.headers), 404, "customer.not_found")
    data = (await client.get(f"{contact_url}/personal-data", headers=owner.headers)).json()
    assert data["customer"] == {"id": customer["id"], "code": customer["code"], "name": customer["name"]}
    assert data["contact"]["name"] == "陈静"
    assert len(data["consents"]) == 1
    assert {e["entity_id"] for e in data["audit_events"]} == {str(contact["id"])}
    assert str(second["id"]) not in {e["entity_id"] for e in data["audit_events"]}


async def test_erasing_a_customer_anonymizes_it_keeps_orders_and_scrubs_the_audit_trail(app, client, actors):
    owner, _ = await two_managers(actors)
    admin = await actors.make("admin")
    customer, contact, _interaction, _contact_url = await _customer_with_history(app, client, owner)
    gone = await make_contact(client, owner, customer["id"], name="离职的张三", mobile="13700000000")
    assert (await client.delete(f"{BASE}/{customer['id']}/contacts/{gone['id']}", headers=owner.headers)).status_code == 204

    erased = await client.post(f"{BASE}/{customer['id']}/erase", json={"reason": "GDPR request #42"}, headers=admin.headers)
    assert erased.status_code == 200, erased.text
    body = erased.json()
    assert body["name"] == f"已删除用户 #{customer['id']}" and body["erased_at"]
    assert all(body[field] is None for field in PII_CUSTOMER) and body["phone"] is None

    data = (await client.get(f"{BASE}/{customer['id']}/personal-data", headers=admin.headers)).json()
    erased_contact = data["contacts"][0]
    assert erased_contact["name"] == f"已删除用户 #{contact['id']}"
    assert erased_contact["mobile"] is erased_contact["email"] is erased_contact["office_phone"] is None
    assert erased_contact["marketing_consent"] is False
    assert data["interactions"][0]["details"] == "[erased]" and data["interactions"][0]["summary"] == "[erased]"
    assert data["orders"]["count"] == 2 and data["orders"]["total"] == "1300.00"

    # No old event keeps an erased value, including those of the contact deleted before.
    text = str(data["audit_events"])
    for value in [
        *PII_CUSTOMER.values(),
        *PII_CONTACT.values(),
        "13900001111",
        "陈静说她下月离职",
        "13700000000",
        "上海华信科技有限公司",
    ]:
        assert value not in text
    trail = await audit_of(client, admin, "contact", gone["id"])
    assert trail[0]["changes"]["name"] == {"before": None, "after": "[erased]"}
    # The erasure itself is audited, with the reason and no erased value.
    last = (await audit_of(client, admin, "customer", customer["id"]))[-1]
    assert last["action"] == "erase" and last["actor_id"] == admin.id
    assert set(last["changes"]) == {"erased_at", "reason"}
    assert last["changes"]["reason"]["after"] == "GDPR request #42"
    # The orders keep their totals but not where they were shipped.
    async with app.state.db.sessionmaker() as session:
        from sqlalchemy import select

        from crm_api.models.sales import Order

        orders = (
            await session.execute(select(Order.total, Order.shipping_address).where(Order.customer_id == customer["id"]))
        ).all()
    assert sorted(str(total) for total, _ in orders) == ["1200.50", "99.50"]
    assert {address for _, address in orders} == {None}


async def test_an_erased_customer_is_read_only(app, client, actors):
    owner, _ = await two_managers(actors)
    admin = await actors.make("admin")
    customer, _, interaction, contact_url = await _customer_with_history(app, client, owner)
    await client.post(f"{BASE}/{customer['id']}/erase", json={"reason": "request"}, headers=admin.headers)
    customer_url = f"{BASE}/{customer['id']}"
    for method, url, body in [
        ("PATCH", customer_url, {"name": "复活"}),
        ("PATCH", contact_url, {"name": "陈静"}),
        ("DELETE", contact_url, None),
        ("POST", f"{customer_url}/contacts", {"name": "新人", "gender": "male", "title": "经理", "office_phone": "021-62345679"}),
        ("PATCH", f"{customer_url}/interactions/{interaction['id']}", {"notes": "x"}),
        ("POST", f"{contact_url}/consents", {"purpose": "marketing_sms", "granted": True, "source": "web"}),
        ("POST", f"{customer_url}/erase", {"reason": "again"}),
        ("POST", f"{customer_url}/transfer", {"owner_id": admin.id}),
        ("POST", f"{BASE}/bulk-update", {"ids": [customer["id"]], "set": {"tags_add": ["x"]}}),
    ]:
        assert_problem(await client.request(method, url, json=body, headers=admin.headers), 409, "privacy.erased")
    assert (await client.get(customer_url, headers=owner.headers)).json()["name"] == f"已删除用户 #{customer['id']}"


async def test_erasing_one_contact_leaves_the_customer(app, client, actors):
    owner, _ = await two_managers(actors)
    admin = await actors.make("admin")
    customer, contact, _, contact_url = await _customer_with_history(app, client, owner)
    erased = await client.post(f"{contact_url}/erase", json={"reason": "离职"}, headers=admin.headers)
    assert erased.status_code == 200, erased.text
    assert erased.json()["name"] == f"已删除用户 #{contact['id']}" and erased.json()["mobile"] is None
    assert_problem(await client.patch(contact_url, json={"title": "总监"}, headers=owner.headers), 409, "privacy.erased")
    assert_problem(await client.post(f"{contact_url}/erase", json={"reason": "x"}, headers=admin.headers), 409, "privacy.erased")
    assert (await client.patch(f"{BASE}/{customer['id']}", json={"satisfaction": 4}, headers=owner.headers)).status_code == 200
    trail = await audit_of(client, admin, "contact", contact["id"])
    assert "13812345678" not in str(trail) and "陈静" not in str(trail)
    assert trail[-1]["action"] == "erase"
    # The customer's own history keeps its values.
    assert "6225880212345678" in str(await audit_of(client, admin, "customer", customer["id"]))


async def test_erasure_is_for_admins_and_within_scope(app, client, actors):
    owner, _other = await two_managers(actors)
    admin = await actors.make("admin")
    customer, _, _, contact_url = await _customer_with_history(app, client, owner)
    url = f"{BASE}/{customer['id']}/erase"
    body = {"reason": "request"}
    assert_problem(await client.post(url, json=body), 401)
    for role in ("account_manager", "sales_supervisor", "executive"):
        caller = owner if role == "account_manager" else await actors.make(role, team="east")
        assert_problem(await client.post(url, json=body, headers=caller.headers), 403, "auth.missing_permission")
        assert_problem(await client.post(f"{contact_url}/erase", json=body, headers=caller.headers), 403)
    officer = await privacy_officer(client, actors, admin, team="east")
    assert_problem(await client.post(url, json=body, headers=officer.headers), 404, "customer.not_found")
    assert_problem(await client.post(f"{contact_url}/erase", json=body, headers=officer.headers), 404)
    assert_problem(await client.post(f"{BASE}/999999/erase", json=body, headers=admin.headers), 404)
    assert_problem(await client.post(url, json={}, headers=admin.headers), 422)
    assert (await client.get(f"{BASE}/{customer['id']}", headers=owner.headers)).json()["erased_at"] is None
    own = await make_customer(client, officer, name="自己的客户")
    assert (await client.post(f"{BASE}/{own['id']}/erase", json=body, headers=officer.headers)).status_code == 200


async def test_erasing_a_won_customer_anonymizes_its_opportunity_and_its_history(app, client, actors):

    from crm_api.models.pipeline import Opportunity
    from tests.opportunities.factories import API, opportunity_in

    creator = await actors.make("account_manager", team="east")
    supervisor = await actors.make("sales_supervisor", team="east")
    assignee = await actors.make("account_manager", team="east")
    admin = await actors.make("admin")
    opportunity = await opportunity_in(client, "assigned", creator=creator, supervisor=supervisor, assignee=assignee)
    won = await client.post(
        f"{API}/{opportunity['id']}/win", json={"contact_title": "采购经理", "contact_gender": "male"}, headers=assignee.headers
    )
    customer_id = won.json()["customer"]["id"]
    assert (
        await client.post(f"{BASE}/{customer_id}/erase", json={"reason": "request"}, headers=admin.headers)
    ).status_code == 200

    async with app.state.db.sessionmaker() as session:
        row = await session.get(Opportunity, opportunity["id"])
    assert (row.customer_name, row.contact_name, row.contact_phone) == (f"已删除用户 #{customer_id}", None, None)
    assert str(row.expected_amount) == opportunity["expected_amount"]
    history = str(await audit_of(client, admin, "opportunity", opportunity["id"]))
    for value in (opportunity["customer_name"], opportunity["contact_name"], opportunity["contact_phone"]):
        assert value not in history
