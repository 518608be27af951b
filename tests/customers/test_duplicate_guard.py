"""The duplicate guard (防撞单, SPEC §3.12): one company is one live customer with one owner, on create, update,
restore, import, lead capture (报备) and opportunity win, and under concurrency."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from crm_api.customers import repository
from crm_api.models.customer import Customer
from tests.concurrency import RACERS, losers_codes, race, skip_unless_postgresql, statuses
from tests.conftest import migrate
from tests.customers.factories import BASE, company, csv_file, import_file, make_customer, make_legacy_duplicate, two_managers
from tests.customers.test_pool import pooled
from tests.factories import assert_problem
from tests.leads.factories import API as LEADS
from tests.leads.factories import lead_body
from tests.opportunities.factories import API as OPPORTUNITIES
from tests.opportunities.factories import opportunity_in


async def create(client, actor, **fields):
    return await client.post(BASE, json=company(**fields), headers=actor.headers)


def duplicate_of(response):
    return assert_problem(response, 409, "customer.duplicate")["duplicate"]


async def count_customers(app) -> int:
    async with app.state.db.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Customer).where(Customer.deleted_at.is_(None))))


async def test_a_second_customer_of_one_company_is_refused_naming_the_first_and_its_owner(client, actors):
    owner, other = await two_managers(actors)
    first = await make_customer(client, owner, name="上海华信科技有限公司", phone="021-6234 5678", email="Info@Huaxin.cn")

    cases = [
        ({"name": "上海华信科技 (Co., Ltd.)"}, "name"),
        ({"name": "ＨＵＡＸＩＮ", "phone": "+86 21 6234 5678"}, "phone"),
        ({"name": "华信另一家", "email": "info@huaxin.CN"}, "email"),
    ]
    for fields, on in cases:
        match = duplicate_of(await create(client, other, **fields))
        assert match == {
            "id": first["id"],
            "name": "上海华信科技有限公司",
            "owner_id": owner.id,
            "owner_name": owner.username.title(),
            "matched_on": on,
        }


async def test_a_pool_customer_is_named_as_in_the_pool(client, actors):
    owner, other = await two_managers(actors)
    in_pool = await pooled(client, owner, name="公海公司")
    match = duplicate_of(await create(client, other, name="公海公司"))
    assert (match["id"], match["owner_id"], match["owner_name"]) == (in_pool["id"], None, "pool")


async def test_a_deleted_customer_does_not_block_but_its_restore_is_then_refused(client, actors):
    owner = await actors.make("account_manager")
    old = await make_customer(client, owner, name="甲公司", phone="13800000001")
    assert (await client.delete(f"{BASE}/{old['id']}", headers=owner.headers)).status_code == 204
    new = await make_customer(client, owner, name="甲公司", phone="13800000001")

    match = duplicate_of(await client.post(f"{BASE}/{old['id']}/restore", headers=owner.headers))
    assert match["id"] == new["id"]


async def test_an_update_onto_another_customers_name_or_phone_is_refused_its_own_values_pass(client, actors):
    owner = await actors.make("account_manager")
    first = await make_customer(client, owner, name="甲公司", phone="13800000001")
    second = await make_customer(client, owner, name="乙公司", phone="13800000002")
    url = f"{BASE}/{second['id']}"

    assert duplicate_of(await client.patch(url, json={"name": "甲公司有限公司"}, headers=owner.headers))["id"] == first["id"]
    assert duplicate_of(await client.patch(url, json={"phone": "138 0000 0001"}, headers=owner.headers))["id"] == first["id"]
    response = await client.patch(url, json={"name": "乙公司有限公司", "phone": "138-0000-0002"}, headers=owner.headers)
    assert response.status_code == 200, response.text


async def test_a_legacy_duplicate_may_still_be_edited_but_not_renamed_onto_another(client, actors, app):
    owner = await actors.make("account_manager")
    await make_customer(client, owner, name="甲公司", phone="13800000001")
    legacy = await make_legacy_duplicate(app, owner, name="甲公司", phone="13800000009")
    url = f"{BASE}/{legacy['id']}"
    response = await client.patch(url, json={"level": "regular"}, headers=owner.headers)
    assert response.status_code == 200, response.text
    response = await client.patch(url, json={"phone": "13800000008"}, headers=owner.headers)
    assert response.status_code == 200, response.text


async def test_an_import_refuses_rows_duplicating_a_customer_or_an_earlier_row(client, actors, monkeypatch):
    monkeypatch.setattr(repository, "KEY_BATCH", 2)  # the lookup in several batches, as for a large file
    owner, importer = await two_managers(actors)
    existing = await make_customer(client, owner, name="甲公司", phone="13800000001")
    header = ["name", "phone", "email"]
    rows = [
        ["甲公司有限公司", "", ""],  # row 2: the existing customer's name
        ["丙公司", "13800000003", "c@example.com"],  # row 3: new
        ["丁公司", "138 0000 0003", ""],  # row 4: row 3's phone
        ["戊公司", "", "C@EXAMPLE.COM"],  # row 5: row 3's email
        ["己公司", "", ""],  # row 6: new
    ]

    response = await import_file(client, importer, csv_file(header, *rows), mode="valid_rows_only")

    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["valid"], report["invalid"], report["created"]) == (2, 3, 2)
    errors = {(e["row"], e["field"]): e for e in report["errors"]}
    assert set(errors) == {(2, "name"), (4, "phone"), (5, "email")}
    assert errors[(2, "name")]["duplicate"]["id"] == existing["id"]
    assert errors[(2, "name")]["duplicate"]["owner_name"] == owner.username.title()
    assert errors[(4, "phone")]["message"] == "Row 3 has the same phone"
    names = {c["name"] for c in (await client.get(BASE, headers=importer.headers)).json()["items"]}
    assert names == {"丙公司", "己公司"}


# 报备: a lead for a company someone else owns is theirs.


async def test_a_lead_for_a_company_someone_else_owns_is_refused_unless_the_caller_owns_it(client, actors):
    owner, other = await two_managers(actors)
    customer = await make_customer(client, owner, name="杭州云帆科技有限公司", phone="0571-88886666")

    body = assert_problem(
        await client.post(LEADS, json=lead_body(company="杭州云帆科技"), headers=other.headers), 409, "lead.registered_elsewhere"
    )
    assert body["customer"]["id"] == customer["id"] and body["customer"]["owner_name"] == owner.username.title()
    by_phone = lead_body(company="云帆分部", phone="+86 571 8888 6666")
    assert_problem(await client.post(LEADS, json=by_phone, headers=other.headers), 409, "lead.registered_elsewhere")

    response = await client.post(LEADS, json=lead_body(company="杭州云帆科技"), headers=owner.headers)
    assert response.status_code == 201, response.text

    lead = await client.post(
        LEADS, json=lead_body(company="别的公司", phone="13900000000", email="x@y.cn"), headers=other.headers
    )
    assert lead.status_code == 201, lead.text
    rename = await client.patch(f"{LEADS}/{lead.json()['id']}", json={"company": "杭州云帆科技"}, headers=other.headers)
    assert_problem(rename, 409, "lead.registered_elsewhere")


async def test_a_lead_for_a_pool_customer_is_anyones(client, actors):
    owner, other = await two_managers(actors)
    await pooled(client, owner, name="杭州云帆科技有限公司")
    response = await client.post(LEADS, json=lead_body(company="杭州云帆科技"), headers=other.headers)
    assert response.status_code == 201, response.text


# Opportunity win: a new customer or an existing one.


async def won_roles(actors):
    return {
        "creator": await actors.make("account_manager", team="east"),
        "supervisor": await actors.make("sales_supervisor", team="east"),
        "assignee": await actors.make("account_manager", team="east"),
    }


async def test_a_win_for_an_existing_company_is_refused_naming_it_or_attaches_to_it(client, actors, app):
    roles = await won_roles(actors)
    assignee = roles["assignee"]
    existing = await make_customer(client, assignee, name="上海明达机械有限公司")
    opportunity = await opportunity_in(client, "assigned", **roles, customer_name="上海明达机械")
    url = f"{OPPORTUNITIES}/{opportunity['id']}/win"

    match = duplicate_of(await client.post(url, headers=assignee.headers))
    assert match["id"] == existing["id"]
    assert (await client.get(f"{OPPORTUNITIES}/{opportunity['id']}", headers=assignee.headers)).json()["status"] == "assigned"

    other_owner = await actors.make("account_manager", team="east")
    theirs = await make_customer(client, other_owner, name="别人的客户")
    assert_problem(
        await client.post(url, json={"customer_id": theirs["id"]}, headers=assignee.headers), 404, "customer.not_found"
    )

    before = await count_customers(app)
    response = await client.post(url, json={"customer_id": existing["id"]}, headers=assignee.headers)
    assert response.status_code == 200, response.text
    won = response.json()
    assert won["opportunity"]["status"] == "won" and won["opportunity"]["customer_id"] == existing["id"]
    assert won["customer"]["id"] == existing["id"]
    assert await count_customers(app) == before
    contacts = (await client.get(f"{BASE}/{existing['id']}/contacts", headers=assignee.headers)).json()["items"]
    assert [c["name"] for c in contacts] == ["王强"]


# Under concurrency, the partial unique indexes hold it.


@pytest.mark.parametrize("racers", [RACERS])
async def test_concurrent_creates_of_one_company_make_one_customer(client, actors, app, settings, racers):
    skip_unless_postgresql(settings)
    managers = [await actors.make("account_manager") for _ in range(racers)]
    spellings = ["上海华信科技有限公司", "上海华信科技 (Co., Ltd.)", "上海华信科技股份有限公司", "ＳＨＡＮＧＨＡＩ华信科技"]

    def send(n):
        body = company(name=spellings[n % len(spellings)].replace("ＳＨＡＮＧＨＡＩ", "上海"), phone=f"1380000{n:04d}")
        return client.post(BASE, json=body, headers=managers[n].headers)

    responses = await race(send, racers)

    assert statuses(responses) == {201: 1, 409: racers - 1}
    assert losers_codes(responses, 201) == {"customer.duplicate"}
    [winner] = [r.json() for r in responses if r.status_code == 201]
    assert {r.json()["duplicate"]["id"] for r in responses if r.status_code == 409} == {winner["id"]}
    assert await count_customers(app) == 1


@pytest.mark.parametrize("racers", [RACERS])
async def test_concurrent_creates_sharing_a_phone_make_one_customer(client, actors, app, settings, racers):
    skip_unless_postgresql(settings)
    managers = [await actors.make("account_manager") for _ in range(racers)]
    responses = await race(lambda n: create(client, managers[n], phone="021-6234 5678"), racers)
    assert statuses(responses) == {201: 1, 409: racers - 1}
    assert losers_codes(responses, 201) == {"customer.duplicate"}
    assert await count_customers(app) == 1


async def test_the_migration_marks_duplicates_already_present_and_keeps_them(fresh_database):
    """Existing data: all but the oldest live customer of each name or phone wait outside the unique indexes."""
    url = await fresh_database()
    await migrate(url, "598c36366de2")
    engine = create_async_engine(url)
    rows = [
        (1, "上海华信科技有限公司", "上海华信科技", "+862162345678", None),
        (2, "上海华信科技 (Co., Ltd.)", "上海华信科技", None, None),  # 1's name
        (3, "华信分部", "华信分部", "+862162345678", None),  # 1's phone
        (4, "乙公司", "乙公司", None, datetime(2026, 1, 1, tzinfo=UTC)),  # deleted: not compared
        (5, "乙公司", "乙公司", None, None),
        (6, "丙公司", "丙公司", None, None),
    ]
    try:
        async with engine.begin() as connection:
            for id_, name, key, phone, deleted in rows:
                await connection.execute(
                    text(
                        "INSERT INTO customers (id, code, name, name_normalized, phone_e164, deleted_at, status, "
                        "custom_fields, version, created_at, updated_at) VALUES (:id, :code, :name, :key, :phone, "
                        ":deleted, 'active', '{}', 1, '2026-01-01', '2026-01-01')"
                    ),
                    {"id": id_, "code": f"KH{id_}", "name": name, "key": key, "phone": phone, "deleted": deleted},
                )
        await migrate(url)
        async with engine.connect() as connection:
            marked = await connection.execute(text("SELECT id FROM customers WHERE legacy_duplicate ORDER BY id"))
            assert [row.id for row in marked] == [2, 3]
    finally:
        await engine.dispose()
