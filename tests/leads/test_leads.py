import pytest
from sqlalchemy.exc import IntegrityError

from crm_api.models.pipeline import Lead, Opportunity
from tests.factories import assert_problem
from tests.leads.factories import API, create_lead, custom_role, lead_body
from tests.opportunities.factories import count_rows


async def test_anonymous_401_and_roles_without_lead_permissions_403(client, actors):
    executive = await actors.make("executive")
    assert_problem(await client.get(API), 401)
    assert_problem(await client.post(API, json=lead_body(), headers=executive.headers), 403, "auth.missing_permission")


async def test_capture_normalizes_contact_and_the_creator_owns_it_without_rules(client, actors):
    marketer = await actors.make("marketer")
    lead = await create_lead(client, marketer)
    assert lead["status"] == "new"
    assert lead["owner_id"] == marketer.id
    assert lead["phone_e164"] == "+8613800138000"
    assert lead["assignment_rule_id"] is None
    assert lead["score"] == 0 and lead["score_reasons"] == []
    got = await client.get(f"{API}/{lead['id']}", headers=marketer.headers)
    assert got.status_code == 200 and got.headers["etag"]


async def test_bad_input_is_422_and_writes_nothing(client, actors, app):
    marketer = await actors.make("marketer")
    for body, code in (
        (lead_body(phone="12"), "validation_failed"),
        (lead_body(phone="not a phone"), "phone.invalid"),
        (lead_body(email="nope"), "validation_failed"),
        (lead_body(region="atlantis"), "dictionary.unknown_value"),
        (lead_body(status="qualified"), "validation_failed"),
        (lead_body(owner_id=marketer.id), "validation_failed"),
        ({"company": "x"}, "validation_failed"),
    ):
        assert_problem(await client.post(API, json=body, headers=marketer.headers), 422, code)
    assert await count_rows(app, Lead) == 0


async def test_duplicate_phone_or_email_of_an_open_lead_is_refused_with_its_id(client, actors, app):
    marketer = await actors.make("marketer")
    first = await create_lead(client, marketer)
    same_phone = await client.post(API, json=lead_body(phone="+86 138-0013-8000", email=None), headers=marketer.headers)
    body = assert_problem(same_phone, 409, "lead.duplicate")
    assert body["existing_lead_id"] == first["id"]
    same_email = await client.post(API, json=lead_body(phone=None, email="chen.jing@YUNFAN.example"), headers=marketer.headers)
    assert assert_problem(same_email, 409, "lead.duplicate")["existing_lead_id"] == first["id"]
    assert await count_rows(app, Lead) == 1

    other = await create_lead(client, marketer, phone="13900139000", email="b@b.example")
    clash = await client.patch(f"{API}/{other['id']}", json={"email": "chen.jing@yunfan.example"}, headers=marketer.headers)
    assert assert_problem(clash, 409, "lead.duplicate")["existing_lead_id"] == first["id"]
    # A closed lead no longer blocks a new one.
    disqualified = await client.post(f"{API}/{first['id']}/disqualify", json={"reason": "Student"}, headers=marketer.headers)
    assert disqualified.status_code == 200
    assert (await client.post(API, json=lead_body(), headers=marketer.headers)).status_code == 201


async def test_scope_owner_team_supervisor_and_marketer(client, actors):
    manager = await actors.make("account_manager", team="east")
    colleague = await actors.make("account_manager", team="east")
    supervisor = await actors.make("sales_supervisor", team="east")
    other_supervisor = await actors.make("sales_supervisor", team="south")
    marketer = await actors.make("marketer")
    lead = await create_lead(client, manager)
    url = f"{API}/{lead['id']}"
    for viewer in (manager, supervisor, marketer):
        assert (await client.get(url, headers=viewer.headers)).status_code == 200
    for outsider in (colleague, other_supervisor):
        assert_problem(await client.get(url, headers=outsider.headers), 404, "lead.not_found")
        assert_problem(await client.post(f"{url}/qualify", headers=outsider.headers), 404)
    listed = await client.get(API, params={"status": "new", "q": "云帆"}, headers=supervisor.headers)
    assert [item["id"] for item in listed.json()["items"]] == [lead["id"]]
    assert (await client.get(API, headers=colleague.headers)).json()["items"] == []


async def test_lifecycle_activity_makes_it_working_then_qualified(client, actors):
    manager = await actors.make("account_manager")
    lead = await create_lead(client, manager)
    url = f"{API}/{lead['id']}"
    activity = await client.post(
        f"{url}/activities",
        json={"kind": "attended_webinar", "occurred_at": "2026-06-01T10:00:00+08:00"},
        headers=manager.headers,
    )
    assert activity.status_code == 201
    assert activity.json()["occurred_at"].startswith("2026-06-01T02:00")
    assert_problem(await client.post(f"{url}/activities", json={"kind": "dancing"}, headers=manager.headers), 422)
    assert (await client.get(url, headers=manager.headers)).json()["status"] == "working"
    trail = await client.get(f"{url}/activities", headers=manager.headers)
    assert [a["kind"] for a in trail.json()["items"]] == ["attended_webinar"]
    qualified = await client.post(f"{url}/qualify", headers=manager.headers)
    assert qualified.json()["status"] == "qualified"
    assert_problem(await client.post(f"{url}/qualify", headers=manager.headers), 409, "lead.invalid_status")
    assert_problem(await client.post(f"{url}/disqualify", json={}, headers=manager.headers), 422)
    disqualified = await client.post(f"{url}/disqualify", json={"reason": "No budget"}, headers=manager.headers)
    assert disqualified.json()["status"] == "disqualified" and disqualified.json()["disqualify_reason"] == "No budget"
    assert_problem(await client.post(f"{url}/convert", headers=manager.headers), 409, "lead.invalid_status")
    assert_problem(await client.post(f"{url}/disqualify", json={"reason": "x"}, headers=manager.headers), 409)


async def test_convert_creates_an_unassigned_opportunity_and_freezes_the_lead(client, actors, app):
    manager = await actors.make("account_manager", team="east")
    supervisor = await actors.make("sales_supervisor", team="east")
    lead = await create_lead(client, manager, notes="Wants 200 seats")
    url = f"{API}/{lead['id']}"
    converted = await client.post(f"{url}/convert", json={"success_probability": 40}, headers=manager.headers)
    assert converted.status_code == 200, converted.text
    result = converted.json()
    assert result["lead"]["status"] == "converted"
    opportunity = result["opportunity"]
    assert result["lead"]["opportunity_id"] == opportunity["id"]
    assert opportunity["status"] == "unassigned"
    assert opportunity["customer_name"] == "杭州云帆科技有限公司"
    assert opportunity["contact_name"] == "陈静" and opportunity["contact_phone"] == "138 0013 8000"
    assert opportunity["success_probability"] == 40
    assert opportunity["description"] == "Wants 200 seats"
    assert opportunity["created_by_id"] == manager.id
    # The owner's supervisor can now assign it.
    seen = await client.get(f"/api/v1/opportunities/{opportunity['id']}", headers=supervisor.headers)
    assert "assign" in seen.json()["allowed_actions"]

    for response in (
        await client.patch(url, json={"notes": "x"}, headers=manager.headers),
        await client.delete(url, headers=manager.headers),
        await client.post(f"{url}/activities", json={"kind": "call"}, headers=manager.headers),
        await client.post(f"{url}/qualify", headers=manager.headers),
        await client.post(f"{url}/disqualify", json={"reason": "x"}, headers=manager.headers),
        await client.post(f"{url}/convert", headers=manager.headers),
    ):
        assert_problem(response, 409, "lead.converted")
    assert await count_rows(app, Opportunity) == 1


async def test_who_may_convert(client, actors, app):
    owner = await actors.make("account_manager", team="east")
    supervisor = await actors.make("sales_supervisor", team="east")
    marketer = await actors.make("marketer")
    admin = await actors.make("admin")
    executive = await actors.make("executive")
    custom_reader = await actors.make("account_manager", "marketer", team="east")
    for converter in (owner, supervisor, marketer, admin, custom_reader):
        lead = await create_lead(client, owner, phone=None, email=f"{converter.username}@x.example")
        response = await client.post(f"{API}/{lead['id']}/convert", headers=converter.headers)
        assert response.status_code == 200, (converter.username, response.text)
    lead = await create_lead(client, owner, phone=None, email="last@x.example")
    assert_problem(await client.post(f"{API}/{lead['id']}/convert", headers=executive.headers), 403, "auth.missing_permission")
    # Seeing and working every lead is not enough to convert another's.
    await custom_role(app, "lead_desk", {"leads:read": "all", "leads:write": "all"})
    desk = await actors.make("lead_desk")
    assert_problem(await client.post(f"{API}/{lead['id']}/convert", headers=desk.headers), 403, "lead.cannot_convert")
    assert (await client.post(f"{API}/{lead['id']}/qualify", headers=desk.headers)).status_code == 200
    assert await count_rows(app, Opportunity) == 5


async def test_delete_and_edit_an_open_lead(client, actors, app):
    manager = await actors.make("account_manager")
    lead = await create_lead(client, manager)
    url = f"{API}/{lead['id']}"
    etag = (await client.get(url, headers=manager.headers)).headers["etag"]
    edited = await client.patch(url, json={"company": "New name"}, headers=manager.headers | {"If-Match": etag})
    assert edited.json()["company"] == "New name"
    assert_problem(await client.patch(url, json={"company": "x"}, headers=manager.headers | {"If-Match": etag}), 412)
    assert_problem(await client.patch(url, json={"company": None}, headers=manager.headers), 422)
    assert (await client.delete(url, headers=manager.headers)).status_code == 204
    assert await count_rows(app, Lead) == 0


async def test_the_database_keeps_one_open_lead_per_phone_even_when_captures_race(app, actors):
    owner = await actors.make("marketer")

    def lead(status: str) -> Lead:
        return Lead(company="Race Co", contact_name="A", phone_e164="+8613800138000", owner_id=owner.id, status=status)

    async with app.state.db.sessionmaker() as session, session.begin():
        session.add_all([lead("converted"), lead("disqualified"), lead("new")])
    with pytest.raises(IntegrityError):
        async with app.state.db.sessionmaker() as session, session.begin():
            session.add(lead("working"))
