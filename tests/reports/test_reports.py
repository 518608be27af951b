import math
import statistics
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import delete, update

from crm_api.core.clock import clock
from crm_api.models.platform import DictionaryItem
from crm_api.models.sales import Order
from crm_api.read.reports.service import percentages
from tests.factories import assert_problem
from tests.reports.factories import add_customer, add_order, report_world

BASE = "/api/v1/reports"
ENDPOINTS = ["customer-contribution", "customer-composition", "revenue-forecast", "data-quality"]


def _revenue_by_name(body):
    return [(row["customer_name"], row["revenue"], row["order_count"]) for row in body["rows"]]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_reports_need_a_login_and_the_reports_permission(client, actors, endpoint):
    assert_problem(await client.get(f"{BASE}/{endpoint}"), 401, "auth.not_authenticated")
    for role in ("account_manager", "marketer"):
        user = await actors.make(role)
        assert_problem(await client.get(f"{BASE}/{endpoint}", headers=user.headers), 403, "auth.missing_permission")
    for role in ("executive", "admin", "sales_supervisor"):
        user = await actors.make(role, team="East")
        assert (await client.get(f"{BASE}/{endpoint}", headers=user.headers)).status_code == 200


async def test_contribution_sums_shipped_and_paid_orders_per_customer_largest_first(client, app, actors):
    world = await report_world(app, actors)
    response = await client.get(f"{BASE}/customer-contribution", headers=world.executive.headers)
    assert response.status_code == 200
    body = response.json()
    # The status-3 order of 999.00 counts nowhere; the customer without orders has no contribution row.
    assert _revenue_by_name(body) == [
        ("Acme Co., Ltd.", "300.00", 1),
        ("上海华通", "210.00", 2),
        ("上海华通有限公司", "150.40", 4),
        ("北方贸易", "20.00", 1),
    ]
    assert body["totals"] == {"order_count": 8, "revenue": "680.40"}
    assert body["rows"][0]["owner_name"] == "Li.Na"
    assert body["parameters"] == {"customer_name": None, "year": None}
    assert body["next_cursor"] is None
    assert body["facts"] == [{"key": "customers", "label": "Contributing customers", "value": 4}]


async def test_contribution_comes_a_page_at_a_time_with_totals_over_everyone(client, app, actors):
    world = await report_world(app, actors)
    path = f"{BASE}/customer-contribution"
    first = (await client.get(path, params={"limit": 2}, headers=world.executive.headers)).json()
    assert _revenue_by_name(first) == [("Acme Co., Ltd.", "300.00", 1), ("上海华通", "210.00", 2)]
    assert first["totals"] == {"order_count": 8, "revenue": "680.40"}
    assert first["facts"][0]["value"] == 4
    second = (await client.get(path, params={"limit": 2, "cursor": first["next_cursor"]}, headers=world.executive.headers)).json()
    assert _revenue_by_name(second) == [("上海华通有限公司", "150.40", 4), ("北方贸易", "20.00", 1)]
    assert second["totals"] == first["totals"]
    assert second["next_cursor"] is None
    assert_problem(await client.get(path, params={"limit": 0}, headers=world.executive.headers), 422)
    assert_problem(
        await client.get(path, params={"cursor": "not-a-cursor"}, headers=world.executive.headers),
        422,
        "pagination.invalid_cursor",
    )


async def test_contribution_follows_every_change_of_the_orders(client, app, actors):
    """The per-customer revenue is kept by the database, whoever writes the orders."""
    manager = await actors.make("account_manager")
    admin = await actors.make("admin")
    async with app.state.db.sessionmaker() as session, session.begin():
        first = await add_customer(session, name="甲公司", owner_id=manager.id)
        second = await add_customer(session, name="乙公司", owner_id=manager.id)
        order = await add_order(session, first, on=date(2025, 12, 31), total="100.00", status=3)
        await add_order(session, first, on=date(2026, 1, 5), total="1.00")

    async def revenue(**params):
        body = (await client.get(f"{BASE}/customer-contribution", params=params, headers=admin.headers)).json()
        return _revenue_by_name(body), body["totals"]["revenue"]

    async def change(**values):
        async with app.state.db.sessionmaker() as session, session.begin():
            await session.execute(update(Order).where(Order.id == order.id).values(**values))

    assert await revenue() == ([("甲公司", "1.00", 1)], "1.00")
    await change(status=5)  # shipped: now it counts
    assert await revenue() == ([("甲公司", "101.00", 2)], "101.00")
    assert await revenue(year=2025) == ([("甲公司", "100.00", 1)], "100.00")
    await change(total=Decimal("100.55"), order_date=date(2026, 1, 1))
    assert await revenue(year=2025) == ([], "0.00")
    assert await revenue(year=2026) == ([("甲公司", "101.55", 2)], "101.55")
    await change(customer_id=second.id)  # as a merge moves orders
    assert await revenue() == ([("乙公司", "100.55", 1), ("甲公司", "1.00", 1)], "101.55")
    async with app.state.db.sessionmaker() as session, session.begin():
        await session.execute(delete(Order).where(Order.id == order.id))
    assert await revenue() == ([("甲公司", "1.00", 1)], "1.00")


async def test_contribution_year_filter_uses_the_order_date_year(client, app, actors):
    world = await report_world(app, actors)
    in_2026 = (await client.get(f"{BASE}/customer-contribution?year=2026", headers=world.executive.headers)).json()
    assert _revenue_by_name(in_2026) == [
        ("上海华通", "200.00", 1),
        ("上海华通有限公司", "100.40", 3),
        ("北方贸易", "20.00", 1),
    ]
    assert in_2026["totals"]["revenue"] == "320.40"
    # 2025-12-31 belongs to 2025 and nothing else does in December.
    in_2025 = (await client.get(f"{BASE}/customer-contribution?year=2025", headers=world.executive.headers)).json()
    assert _revenue_by_name(in_2025) == [
        ("Acme Co., Ltd.", "300.00", 1),
        ("上海华通有限公司", "50.00", 1),
        ("上海华通", "10.00", 1),
    ]


async def test_contribution_of_a_year_without_orders_is_empty_with_zero_totals(client, app, actors):
    world = await report_world(app, actors)
    body = (await client.get(f"{BASE}/customer-contribution?year=2024", headers=world.executive.headers)).json()
    assert body["rows"] == []
    assert body["totals"] == {"order_count": 0, "revenue": "0.00"}


async def test_contribution_adds_money_to_the_cent(client, app, actors):
    manager = await actors.make("account_manager")
    admin = await actors.make("admin")
    async with app.state.db.sessionmaker() as session, session.begin():
        customer = await add_customer(session, name="分毛不差", owner_id=manager.id)
        for total in ("0.10", "0.20", "0.10", "0.10", "0.10"):
            await add_order(session, customer, on=datetime(2026, 4, 1).date(), total=total)
    body = (await client.get(f"{BASE}/customer-contribution", headers=admin.headers)).json()
    assert body["rows"][0]["revenue"] == "0.60"
    assert body["totals"]["revenue"] == "0.60"


async def test_contribution_filters_by_part_of_the_name(client, app, actors):
    world = await report_world(app, actors)
    response = await client.get(
        f"{BASE}/customer-contribution", params={"customer_name": "华通"}, headers=world.executive.headers
    )
    assert _revenue_by_name(response.json()) == [("上海华通", "210.00", 2), ("上海华通有限公司", "150.40", 4)]
    # LIKE wildcards in the input are plain characters.
    wildcard = await client.get(f"{BASE}/customer-contribution", params={"customer_name": "%"}, headers=world.executive.headers)
    assert wildcard.json()["rows"] == []


async def test_supervisor_sees_only_customers_of_their_team(client, app, actors):
    world = await report_world(app, actors)
    body = (await client.get(f"{BASE}/customer-contribution", headers=world.supervisor.headers)).json()
    assert _revenue_by_name(body) == [("Acme Co., Ltd.", "300.00", 1), ("上海华通有限公司", "150.40", 4)]
    assert body["totals"] == {"order_count": 5, "revenue": "450.40"}
    page = (await client.get(f"{BASE}/customer-contribution?limit=1", headers=world.supervisor.headers)).json()
    assert page["totals"] == body["totals"]


async def test_contribution_ignores_soft_deleted_customers(client, app, actors):
    world = await report_world(app, actors)
    async with app.state.db.sessionmaker() as session, session.begin():
        acme = await session.get(type(world.customers["acme"]), world.customers["acme"].id)
        acme.deleted_at = clock.now()
    body = (await client.get(f"{BASE}/customer-contribution", headers=world.executive.headers)).json()
    assert "Acme Co., Ltd." not in [row["customer_name"] for row in body["rows"]]
    # Totals worked out apart from the rows, when a page holds only some of them, leave it out too.
    page = (await client.get(f"{BASE}/customer-contribution?limit=1", headers=world.executive.headers)).json()
    assert page["totals"] == {"order_count": 7, "revenue": "380.40"}
    assert page["facts"][0]["value"] == 3


async def test_contribution_year_out_of_range_is_422(client, actors):
    admin = await actors.make("admin")
    assert_problem(await client.get(f"{BASE}/customer-contribution?year=20260", headers=admin.headers), 422)


def _composition(body):
    return [(row["value"], row["count"], row["share"]) for row in body["rows"]]


async def test_composition_by_level_counts_active_customers_with_every_level_and_unset(client, app, actors):
    world = await report_world(app, actors)
    body = (await client.get(f"{BASE}/customer-composition?by=level", headers=world.executive.headers)).json()
    # 北方贸易 is churned, so only four customers count.
    assert _composition(body) == [
        ("regular", 2, "50.00"),
        ("key_prospect", 0, "0.00"),
        ("major", 1, "25.00"),
        ("partner", 0, "0.00"),
        ("strategic_partner", 0, "0.00"),
        (None, 1, "25.00"),
    ]
    assert body["rows"][0]["label"] == "普通客户"
    assert body["totals"] == {"count": 4, "share": "100.00"}


async def test_composition_shares_add_up_to_exactly_one_hundred(client, app, actors):
    world = await report_world(app, actors)
    body = (await client.get(f"{BASE}/customer-composition?by=satisfaction", headers=world.supervisor.headers)).json()
    # Team East: satisfaction 3, 4 and 5 once each; the spare hundredth goes to the first of the tied thirds.
    assert _composition(body) == [
        ("1", 0, "0.00"),
        ("2", 0, "0.00"),
        ("3", 1, "33.34"),
        ("4", 1, "33.33"),
        ("5", 1, "33.33"),
        (None, 0, "0.00"),
    ]
    assert sum(Decimal(row["share"]) for row in body["rows"]) == Decimal("100.00")


async def test_composition_by_credit_and_an_empty_scope(client, app, actors):
    world = await report_world(app, actors)
    body = (await client.get(f"{BASE}/customer-composition?by=credit", headers=world.executive.headers)).json()
    assert _composition(body) == [
        ("1", 0, "0.00"),
        ("2", 0, "0.00"),
        ("3", 2, "50.00"),
        ("4", 0, "0.00"),
        ("5", 1, "25.00"),
        (None, 1, "25.00"),
    ]
    lonely = await actors.make("sales_supervisor", team="Nobody")
    empty = (await client.get(f"{BASE}/customer-composition?by=credit", headers=lonely.headers)).json()
    assert all(row["count"] == 0 and row["share"] == "0.00" for row in empty["rows"])
    assert_problem(await client.get(f"{BASE}/customer-composition?by=region", headers=lonely.headers), 422)


async def test_composition_keeps_an_inactive_level_only_while_customers_carry_it(client, app, actors):
    world = await report_world(app, actors)
    async with app.state.db.sessionmaker() as db, db.begin():
        await db.execute(
            update(DictionaryItem)
            .where(DictionaryItem.category == "customer_level", DictionaryItem.value.in_(["major", "partner"]))
            .values(active=False)
        )
    body = (await client.get(f"{BASE}/customer-composition?by=level", headers=world.executive.headers)).json()
    assert [row["value"] for row in body["rows"]] == ["regular", "key_prospect", "major", "strategic_partner", None]


def test_largest_remainder_percentages():
    assert percentages([1, 1, 1]) == [Decimal("33.34"), Decimal("33.33"), Decimal("33.33")]
    assert percentages([2, 1, 0]) == [Decimal("66.67"), Decimal("33.33"), Decimal("0.00")]
    assert percentages([1, 5, 1]) == [Decimal("14.29"), Decimal("71.43"), Decimal("14.28")]
    assert sum(percentages([7, 11, 13, 17, 19])) == Decimal("100.00")
    assert percentages([0, 0]) == [Decimal("0.00"), Decimal("0.00")]


async def test_revenue_forecast_fits_a_least_squares_line_that_can_be_checked(client, app, actors, frozen_clock):
    world = await report_world(app, actors)
    response = await client.get(f"{BASE}/revenue-forecast?history=6&months=2", headers=world.executive.headers)
    assert response.status_code == 200
    body = response.json()
    # Frozen at 2026-06-15: the six full months before June, gaps as zero, the status-3 order left out.
    history = [(row["month"], row["revenue"]) for row in body["rows"] if row["kind"] == "actual"]
    assert history == [
        ("2025-12", "50.00"),
        ("2026-01", "120.10"),
        ("2026-02", "200.00"),
        ("2026-03", "0.30"),
        ("2026-04", "0.00"),
        ("2026-05", "0.00"),
    ]
    ys = [50.00, 120.10, 200.00, 0.30, 0.0, 0.0]
    xs = list(range(6))
    slope, intercept = statistics.linear_regression(xs, ys)
    # By hand: x̄ = 2.5, Σ(x − x̄)² = 17.5, Σ(x − x̄)y = −405.00, so slope = −405 / 17.5.
    assert slope == pytest.approx(-405 / 17.5)
    residuals = [y - (intercept + slope * x) for x, y in zip(xs, ys, strict=True)]
    s = math.sqrt(sum(r * r for r in residuals) / 4)
    facts = {fact["key"]: fact["value"] for fact in body["facts"]}
    assert facts["months_used"] == 6
    assert float(facts["slope"]) == pytest.approx(slope, abs=1e-4)
    assert float(facts["intercept"]) == pytest.approx(intercept, abs=1e-4)
    assert float(facts["residual_standard_error"]) == pytest.approx(s, abs=1e-4)
    assert facts["t_value"] == "2.776"

    forecast = [row for row in body["rows"] if row["kind"] == "forecast"]
    assert [row["month"] for row in forecast] == ["2026-06", "2026-07"]
    for row, x in zip(forecast, (6, 7), strict=True):
        point = intercept + slope * x
        half = 2.776 * s * math.sqrt(1 + 1 / 6 + (x - 2.5) ** 2 / 17.5)
        assert float(row["revenue"]) == pytest.approx(point, abs=0.006)
        assert float(row["lower"]) == pytest.approx(point - half, abs=0.006)
        assert float(row["upper"]) == pytest.approx(point + half, abs=0.006)


async def test_revenue_forecast_months_follow_the_business_time_zone(client, app, actors):
    world = await report_world(app, actors)
    # 17:00 UTC on 31 May is already 1 June in Shanghai, so May is a full month of history.
    clock.freeze(datetime(2026, 5, 31, 17, 0, tzinfo=UTC))
    body = (await client.get(f"{BASE}/revenue-forecast?history=3&months=1", headers=world.supervisor.headers)).json()
    assert body["parameters"]["first_month"] == "2026-03"
    # Team East only: 上海华通有限公司's 0.10 + 0.20 in March.
    assert [(row["month"], row["revenue"]) for row in body["rows"][:3]] == [
        ("2026-03", "0.30"),
        ("2026-04", "0.00"),
        ("2026-05", "0.00"),
    ]
    assert body["rows"][3]["month"] == "2026-06"


async def test_revenue_forecast_refuses_too_short_a_history(client, actors):
    admin = await actors.make("admin")
    assert_problem(await client.get(f"{BASE}/revenue-forecast?history=2", headers=admin.headers), 422)
    assert_problem(await client.get(f"{BASE}/revenue-forecast?months=13", headers=admin.headers), 422)


def _missing(body, entity):
    return {row["field"]: (row["missing"], row["total"], row["missing_rate"]) for row in body["rows"] if row["entity"] == entity}


async def test_data_quality_duplicate_ratio_and_missing_rates(client, app, actors):
    world = await report_world(app, actors)
    body = (await client.get(f"{BASE}/data-quality", headers=world.executive.headers)).json()
    facts = {fact["key"]: fact["value"] for fact in body["facts"]}
    # 上海华通有限公司 and 上海华通 share a normalized name; Acme shares 上海华通有限公司's phone and
    # (case and spaces aside) its email.
    assert facts == {
        "customers": 5,
        "duplicate_candidates": 3,
        "duplicate_ratio": "60.00",
        "same_normalized_name": 2,
        "same_phone": 2,
        "same_email": 2,
    }
    customers = _missing(body, "customer")
    assert customers["region"] == (1, 5, "20.00")  # a blank region counts as missing
    assert customers["level"] == (1, 5, "20.00")
    assert customers["satisfaction"] == (2, 5, "40.00")
    assert customers["phone"] == (2, 5, "40.00")
    assert customers["email"] == (3, 5, "60.00")
    assert customers["fax"] == (5, 5, "100.00")
    contacts = _missing(body, "contact")
    assert contacts["name"] == (0, 3, "0.00")
    assert contacts["mobile"] == (1, 3, "33.33")
    assert contacts["email"] == (2, 3, "66.67")
    assert contacts["notes"] == (3, 3, "100.00")


async def test_data_quality_of_a_supervisor_covers_their_team(client, app, actors):
    world = await report_world(app, actors)
    body = (await client.get(f"{BASE}/data-quality", headers=world.supervisor.headers)).json()
    facts = {fact["key"]: fact["value"] for fact in body["facts"]}
    # East alone: the name twin is in South, only the shared phone remains.
    assert facts["customers"] == 3
    assert facts["duplicate_candidates"] == 2
    assert facts["duplicate_ratio"] == "66.67"
    assert _missing(body, "contact")["mobile"] == (1, 2, "50.00")


async def test_data_quality_with_no_customers_is_all_zero(client, actors):
    admin = await actors.make("admin")
    body = (await client.get(f"{BASE}/data-quality", headers=admin.headers)).json()
    assert {fact["key"]: fact["value"] for fact in body["facts"]}["duplicate_ratio"] == "0.00"
    assert all(row["total"] == 0 and row["missing_rate"] == "0.00" for row in body["rows"])
