from datetime import UTC, date, datetime

from sqlalchemy import func, select

from crm_api.models.churn import ChurnMeasure
from crm_api.models.customer import Customer
from crm_api.models.platform import AuditEvent
from tests.churn.factories import make_customer, make_order, make_warning
from tests.factories import assert_problem

LONG_AGO = datetime(2024, 1, 1, tzinfo=UTC)
URL = "/api/v1/churn-warnings"


async def _warning_of(app, owner_id: int, *, name: str | None = None, status: str = "open") -> tuple[int, int]:
    customer_id = await make_customer(app, owner_id, name=name, created_at=LONG_AGO)
    return customer_id, await make_warning(app, customer_id, status=status)


async def _measure(client, actor, warning_id: int, text: str = "上门拜访，提供九折优惠"):
    return await client.post(f"{URL}/{warning_id}/measures", json={"measure": text}, headers=actor.headers)


async def _measure_count(app) -> int:
    async with app.state.db.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(ChurnMeasure))


async def test_list_is_data_scoped_and_filtered(app, client, actors):
    li = await actors.make("account_manager", team="East", username="li.na")
    wang = await actors.make("account_manager", team="East", username="wang.fang")
    liu = await actors.make("account_manager", team="South", username="liu.yang")
    supervisor = await actors.make("sales_supervisor", team="East")
    executive = await actors.make("executive")
    _, li_warning = await _warning_of(app, li.id, name="华为技术")
    _, wang_warning = await _warning_of(app, wang.id, name="中兴通讯", status="postponed")
    _, liu_warning = await _warning_of(app, liu.id, name="华润万家")

    def ids(response) -> list[int]:
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert ids(await client.get(URL, headers=li.headers)) == [li_warning]
    assert ids(await client.get(URL, headers=supervisor.headers)) == [wang_warning, li_warning]
    assert ids(await client.get(URL, headers=executive.headers)) == [liu_warning, wang_warning, li_warning]
    assert ids(await client.get(URL, params={"customer_name": "华"}, headers=executive.headers)) == [liu_warning, li_warning]
    assert ids(await client.get(URL, params={"owner_name": "WANG"}, headers=executive.headers)) == [wang_warning]
    assert ids(await client.get(URL, params={"status": "postponed"}, headers=executive.headers)) == [wang_warning]
    assert_problem(await client.get(URL, params={"status": "closed"}, headers=executive.headers), 422)
    assert_problem(await client.get(URL), 401)
    marketer = await actors.make("marketer")
    assert_problem(await client.get(URL, headers=marketer.headers), 403)


async def test_detail_shows_customer_owner_last_order_and_reasons(app, client, actors, frozen_clock):
    owner = await actors.make("account_manager")
    customer_id, warning_id = await _warning_of(app, owner.id, name="华为技术")
    # Frozen "today" is 2026-06-15: the last period starts 2025-12-15, the one before 2025-06-15.
    for day in (date(2025, 7, 1), date(2025, 9, 1), date(2025, 11, 30)):
        await make_order(app, customer_id, day)
    await make_order(app, customer_id, date(2026, 1, 5), status=3)  # not shipped or paid: does not count

    response = await client.get(f"{URL}/{warning_id}", headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.headers["etag"]
    body = response.json()
    assert body["customer"]["id"] == customer_id and body["customer"]["name"] == "华为技术"
    assert body["owner"]["id"] == owner.id
    assert body["last_order_date"] == "2025-11-30"
    assert body["reasons"] == {
        "days_since_last_order": (date(2026, 6, 15) - date(2025, 11, 30)).days,
        "has_completed_orders": True,
        "period_months": 6,
        "orders_last_period": 0,
        "orders_previous_period": 3,
    }
    assert body["measures"] == [] and body["status"] == "open"
    assert body["allowed_actions"] == ["add_measure"]


async def test_warning_outside_scope_or_missing_is_404(app, client, actors):
    owner = await actors.make("account_manager")
    other = await actors.make("account_manager")
    _, warning_id = await _warning_of(app, owner.id)
    assert_problem(await client.get(f"{URL}/{warning_id}", headers=other.headers), 404, "churn_warning.not_found")
    assert_problem(await client.get(f"{URL}/999999", headers=owner.headers), 404, "churn_warning.not_found")
    assert_problem(await _measure(client, other, warning_id), 404, "churn_warning.not_found")
    assert await _measure_count(app) == 0


async def test_owner_adds_measures_which_postpone_the_warning(app, client, actors, frozen_clock):
    owner = await actors.make("account_manager", team="East")
    _, warning_id = await _warning_of(app, owner.id)
    first = await _measure(client, owner, warning_id, "电话回访")
    assert first.status_code == 200, first.text
    second = (await _measure(client, owner, warning_id, "赠送一次免费保养")).json()
    assert second["status"] == "postponed"
    assert [(m["measure"], m["author_id"]) for m in second["measures"]] == [
        ("电话回访", owner.id),
        ("赠送一次免费保养", owner.id),
    ]
    assert second["measures"][0]["created_at"] == frozen_clock.isoformat().replace("+00:00", "Z")
    assert second["allowed_actions"] == ["add_measure", "confirm"]


async def test_only_the_customers_owner_adds_measures(app, client, actors):
    owner = await actors.make("account_manager", team="East")
    supervisor = await actors.make("sales_supervisor", team="East")
    executive = await actors.make("executive")
    _, warning_id = await _warning_of(app, owner.id)
    assert_problem(await _measure(client, supervisor, warning_id), 403, "churn_warning.not_owner")
    assert_problem(await _measure(client, executive, warning_id), 403, "auth.missing_permission")
    assert_problem(await client.post(f"{URL}/{warning_id}/measures", json={"measure": "x"}), 401)
    assert_problem(await _measure(client, owner, warning_id, "   "), 422)
    bad = await client.post(f"{URL}/{warning_id}/measures", json={"measure": "x", "status": "confirmed"}, headers=owner.headers)
    assert_problem(bad, 422)
    assert await _measure_count(app) == 0


async def test_confirm_needs_a_measure_first_then_churns_the_customer(app, client, actors, frozen_clock):
    owner = await actors.make("account_manager")
    customer_id, warning_id = await _warning_of(app, owner.id)
    confirm = lambda body: client.post(f"{URL}/{warning_id}/confirm", json=body, headers=owner.headers)  # noqa: E731

    assert_problem(await confirm({"reason": "客户已转向竞争对手"}), 409, "churn_warning.no_measures")
    assert_problem(await confirm({}), 422)
    assert_problem(await confirm({"reason": ""}), 422)
    assert (await _measure(client, owner, warning_id)).status_code == 200
    assert_problem(await confirm({"reason": " "}), 422)

    response = await confirm({"reason": "客户已转向竞争对手"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "confirmed" and body["confirm_reason"] == "客户已转向竞争对手"
    assert body["confirmed_by_id"] == owner.id and body["allowed_actions"] == []
    async with app.state.db.sessionmaker() as session:
        customer = await session.get(Customer, customer_id)
    assert customer.status == "churned" and customer.churned_at == frozen_clock
    async with app.state.db.sessionmaker() as session:
        audited = (await session.execute(select(AuditEvent.entity_type, AuditEvent.action).order_by(AuditEvent.id))).all()
    assert [tuple(a) for a in audited] == [("churn_warning", "add_measure"), ("churn_warning", "confirm"), ("customer", "churn")]

    # Final: no more measures, no second confirm.
    assert_problem(await _measure(client, owner, warning_id), 409, "churn_warning.confirmed")
    assert_problem(await confirm({"reason": "again"}), 409, "churn_warning.confirmed")
    assert await _measure_count(app) == 1


async def test_a_supervisor_may_confirm_in_their_team(app, client, actors):
    owner = await actors.make("account_manager", team="East")
    supervisor = await actors.make("sales_supervisor", team="East")
    outsider = await actors.make("sales_supervisor", team="South")
    _, warning_id = await _warning_of(app, owner.id)
    await _measure(client, owner, warning_id)
    body = {"reason": "停业"}
    assert_problem(await client.post(f"{URL}/{warning_id}/confirm", json=body, headers=outsider.headers), 404)
    response = await client.post(f"{URL}/{warning_id}/confirm", json=body, headers=supervisor.headers)
    assert response.status_code == 200 and response.json()["status"] == "confirmed"


async def test_a_confirmed_customer_is_not_warned_again(app, client, actors, frozen_clock):
    admin = await actors.make("admin")
    owner = await actors.make("account_manager")
    _, warning_id = await _warning_of(app, owner.id)
    await _measure(client, owner, warning_id)
    await client.post(f"{URL}/{warning_id}/confirm", json={"reason": "倒闭"}, headers=owner.headers)
    scan = await client.post(f"{URL}/scan", headers=admin.headers)
    assert scan.json()["opened"] == 0


async def test_warning_allowed_actions_match_what_the_service_accepts(app, client, actors):
    owner = await actors.make("account_manager", team="East")
    supervisor = await actors.make("sales_supervisor", team="East")
    perform = {
        "add_measure": lambda actor, warning_id: _measure(client, actor, warning_id),
        "confirm": lambda actor, warning_id: client.post(
            f"{URL}/{warning_id}/confirm", json={"reason": "r"}, headers=actor.headers
        ),
    }
    for status in ("open", "postponed", "confirmed"):
        for actor in (owner, supervisor):
            for action, call in perform.items():
                _, warning_id = await _warning_of(app, owner.id, status=status)
                if status != "open":  # postponed and confirmed warnings carry their measures
                    async with app.state.db.sessionmaker() as session, session.begin():
                        session.add(ChurnMeasure(warning_id=warning_id, measure="m", author_id=owner.id))
                shown = (await client.get(f"{URL}/{warning_id}", headers=actor.headers)).json()["allowed_actions"]
                response = await call(actor, warning_id)
                assert (action in shown) == (response.status_code == 200), (status, actor.username, action, response.text)


async def test_without_orders_the_age_of_the_customer_counts(app, client, actors, frozen_clock):
    owner = await actors.make("account_manager")
    _, warning_id = await _warning_of(app, owner.id)  # created 2024-01-01 08:00 Shanghai, no orders
    reasons = (await client.get(f"{URL}/{warning_id}", headers=owner.headers)).json()["reasons"]
    assert reasons["has_completed_orders"] is False
    assert reasons["days_since_last_order"] == (date(2026, 6, 15) - date(2024, 1, 1)).days
    assert reasons["orders_last_period"] == reasons["orders_previous_period"] == 0


async def test_warnings_of_deleted_customers_are_hidden(app, client, actors):
    owner = await actors.make("account_manager")
    customer_id, warning_id = await _warning_of(app, owner.id)
    async with app.state.db.sessionmaker() as session, session.begin():
        (await session.get(Customer, customer_id)).deleted_at = datetime(2026, 1, 1, tzinfo=UTC)
    assert_problem(await client.get(f"{URL}/{warning_id}", headers=owner.headers), 404)
    assert (await client.get(URL, headers=owner.headers)).json()["items"] == []
