import csv
import io
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import openpyxl
import pytest

from tests.factories import assert_problem
from tests.reports.factories import add_churn_warning, add_ticket, report_world

BASE = "/api/v1/reports"
HOURS = timedelta(hours=1)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


async def activity_world(app, actors):
    """The report world plus tickets and churn warnings, with figures worked out in the tests.

    Tickets (created, UTC; January 1 01:00 in Shanghai is still 31 December in UTC):
      T1 华通 (East)   complaint     2026-03-01 02:00  handled +2 h, archived +10 h, due +4 h / +24 h, satisfaction 4
      T2 华通 (East)   consultation  2025-12-31 17:00  handled +6 h (due +4 h: breached), archived +30 h, satisfaction 2 then 5
      T3 上海华通 (South) complaint   2026-02-01 00:00  never handled, due +4 h: breached
      T4 上海华通 (South) suggestion  2025-06-01 00:00  (before every period asked for)
      T5 上海华通 (South) consultation 2026-01-10 00:00  handled +1 h, archived +2 h, no SLA
      T6 Acme (East)    complaint     2026-01-20 00:00  handled +3 h, not archived, resolve due +24 h: breached
    """
    world = await report_world(app, actors)
    c = world.customers
    east = world.east_manager.id
    async with app.state.db.sessionmaker() as session, session.begin():
        for customer, service_type, created, handled, archived, response, resolve, satisfactions in (
            (c["huatong"], "complaint", utc(2026, 3, 1, 2), 2, 10, 4, 24, (4,)),
            (c["huatong"], "consultation", utc(2025, 12, 31, 17), 6, 30, 4, None, (2, 5)),
            (c["huatong_south"], "complaint", utc(2026, 2, 1), None, None, 4, None, ()),
            (c["huatong_south"], "suggestion", utc(2025, 6, 1), None, None, None, None, ()),
            (c["huatong_south"], "consultation", utc(2026, 1, 10), 1, 2, None, None, ()),
            (c["acme"], "complaint", utc(2026, 1, 20), 3, None, None, 24, ()),
        ):
            await add_ticket(
                session,
                customer,
                service_type=service_type,
                created_at=created,
                author_id=east,
                handled_after=handled * HOURS if handled else None,
                archived_after=archived * HOURS if archived else None,
                response_within=response * HOURS if response else None,
                resolve_within=resolve * HOURS if resolve else None,
                satisfactions=satisfactions,
            )
        await add_churn_warning(
            session, c["northern"], confirmed_at=utc(2026, 4, 30, 20), reason="价格原因", last_order=date(2026, 1, 20)
        )
        await add_churn_warning(
            session, c["acme"], confirmed_at=utc(2026, 5, 10, 3), reason="转向竞争对手", last_order=date(2025, 5, 5)
        )
        await add_churn_warning(session, c["huatong"], status="open")

    return world


def _shares(body):
    return [(row["value"], row["count"], row["share"]) for row in body["rows"]]


@pytest.mark.parametrize("endpoint", ["service-composition", "churn", "service-performance"])
async def test_activity_reports_need_the_reports_permission(client, actors, endpoint):
    assert_problem(await client.get(f"{BASE}/{endpoint}"), 401, "auth.not_authenticated")
    manager = await actors.make("account_manager")
    assert_problem(await client.get(f"{BASE}/{endpoint}", headers=manager.headers), 403, "auth.missing_permission")
    executive = await actors.make("executive")
    assert (await client.get(f"{BASE}/{endpoint}", headers=executive.headers)).status_code == 200
    # The calendar's last day has no day after.
    last_days = {"service-performance": {"from": "9999-12-01", "to": "9999-12-31"}, "service-composition": {"year": 9999}}
    edge = await client.get(f"{BASE}/{endpoint}", params=last_days.get(endpoint, {}), headers=executive.headers)
    assert edge.status_code == 200


async def test_service_composition_counts_tickets_per_dictionary_type(client, app, actors, frozen_clock):
    world = await activity_world(app, actors)
    headers = world.executive.headers
    every_year = (await client.get(f"{BASE}/service-composition", headers=headers)).json()
    assert _shares(every_year) == [("consultation", 2, "33.33"), ("suggestion", 1, "16.67"), ("complaint", 3, "50.00")]
    assert every_year["rows"][2]["label"] == "投诉"
    # T2 was created on 1 January 2026 in Shanghai, though still 2025 in UTC.
    in_2026 = (await client.get(f"{BASE}/service-composition?year=2026", headers=headers)).json()
    assert _shares(in_2026) == [("consultation", 2, "40.00"), ("suggestion", 0, "0.00"), ("complaint", 3, "60.00")]
    in_2024 = (await client.get(f"{BASE}/service-composition?year=2024", headers=headers)).json()
    last_year = await client.get(f"{BASE}/service-composition?year=9999", headers=headers)  # it has no day after
    assert last_year.status_code == 200 and _shares(last_year.json())[0] == ("consultation", 0, "0.00")
    assert _shares(in_2024) == [("consultation", 0, "0.00"), ("suggestion", 0, "0.00"), ("complaint", 0, "0.00")]
    east = (await client.get(f"{BASE}/service-composition", headers=world.supervisor.headers)).json()
    assert _shares(east) == [("consultation", 1, "33.33"), ("suggestion", 0, "0.00"), ("complaint", 2, "66.67")]


async def test_service_composition_counts_exactly_the_tickets_the_ticket_list_shows(client, app, actors, frozen_clock):
    """The tickets' own policy scopes the report: their customer's owner in scope, or the caller is the assignee or
    the creator."""
    world = await activity_world(app, actors)
    south = world.customers["huatong_south"]
    async with app.state.db.sessionmaker() as session, session.begin():
        # Tickets of a South customer the East supervisor works on: one assigned to them, one they opened.
        assigned = await add_ticket(
            session, south, service_type="suggestion", created_at=utc(2026, 4, 1), author_id=world.south_manager.id
        )
        assigned.status, assigned.assignee_id, assigned.assigned_at = "assigned", world.supervisor.id, utc(2026, 4, 1, 1)
        await add_ticket(session, south, service_type="suggestion", created_at=utc(2026, 4, 2), author_id=world.supervisor.id)
    for actor in (world.supervisor, world.executive):
        listed = await client.get("/api/v1/service-tickets", params={"limit": 100}, headers=actor.headers)
        assert listed.status_code == 200 and listed.json()["next_cursor"] is None
        shown = Counter(ticket["service_type"] for ticket in listed.json()["items"])
        report = (await client.get(f"{BASE}/service-composition", headers=actor.headers)).json()
        assert {row["value"]: row["count"] for row in report["rows"]} == {
            value: shown[value] for value in ("consultation", "suggestion", "complaint")
        }
    east = (await client.get(f"{BASE}/service-composition", headers=world.supervisor.headers)).json()
    assert _shares(east) == [("consultation", 1, "20.00"), ("suggestion", 2, "40.00"), ("complaint", 2, "40.00")]


async def test_churn_lists_confirmed_churn_newest_first_with_filters_and_scope(client, app, actors, frozen_clock):
    world = await activity_world(app, actors)
    body = (await client.get(f"{BASE}/churn", headers=world.executive.headers)).json()
    # The open warning of 华通 is not churn; 20:00 UTC on 30 April is 1 May in Shanghai.
    assert [
        (r["customer_name"], r["owner_name"], r["confirmed_on"], r["reason"], r["last_order_date"]) for r in body["rows"]
    ] == [
        ("Acme Co., Ltd.", "Li.Na", "2026-05-10", "转向竞争对手", "2025-05-05"),
        ("北方贸易", "Wang.Fang", "2026-05-01", "价格原因", "2026-01-20"),
    ]
    assert body["facts"] == [{"key": "confirmed", "label": "Confirmed churns", "value": 2}]
    by_owner = (await client.get(f"{BASE}/churn", params={"owner_name": "wang"}, headers=world.executive.headers)).json()
    assert [r["customer_name"] for r in by_owner["rows"]] == ["北方贸易"]
    by_customer = (await client.get(f"{BASE}/churn", params={"customer_name": "acme"}, headers=world.executive.headers)).json()
    assert [r["customer_name"] for r in by_customer["rows"]] == ["Acme Co., Ltd."]
    east = (await client.get(f"{BASE}/churn", headers=world.supervisor.headers)).json()
    assert [r["customer_name"] for r in east["rows"]] == ["Acme Co., Ltd."]
    exported = await client.get(f"{BASE}/churn?format=csv", headers=world.executive.headers)
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[1][1:5] == ["Acme Co., Ltd.", "Li.Na", "2026-05-10", "转向竞争对手"]


def _months(body):
    return [
        (
            r["month"],
            r["tickets"],
            r["first_handling_median_hours"],
            r["first_handling_p90_hours"],
            r["archive_median_hours"],
            r["archive_p90_hours"],
            r["sla_breach_rate"],
            r["satisfaction_average"],
        )
        for r in body["rows"]
    ]


async def test_service_performance_per_business_month(client, app, actors, frozen_clock):
    world = await activity_world(app, actors)
    period = {"from": "2026-01-01", "to": "2026-03-31"}
    body = (await client.get(f"{BASE}/service-performance", params=period, headers=world.executive.headers)).json()
    # January: T2, T5, T6 (handled after 6, 1, 3 h; archived after 30, 2 h; T2 and T6 breached; T2 rated 2 and 5).
    assert _months(body) == [
        ("2026-01", 3, "3.00", "6.00", "16.00", "30.00", "66.67", "3.50"),
        ("2026-02", 1, None, None, None, None, "100.00", None),
        ("2026-03", 1, "2.00", "2.00", "10.00", "10.00", "0.00", "4.00"),
    ]
    east = (await client.get(f"{BASE}/service-performance", params=period, headers=world.supervisor.headers)).json()
    assert _months(east)[0] == ("2026-01", 2, "4.50", "6.00", "30.00", "30.00", "100.00", "3.50")
    assert _months(east)[1] == ("2026-02", 0, None, None, None, None, None, None)


async def test_service_performance_refuses_a_backwards_or_too_long_period(client, actors):
    admin = await actors.make("admin")
    backwards = {"from": "2026-05-01", "to": "2026-04-01"}
    assert_problem(
        await client.get(f"{BASE}/service-performance", params=backwards, headers=admin.headers), 422, "report.bad_period"
    )
    too_long = {"from": "2023-01-01", "to": "2026-01-01"}
    assert_problem(
        await client.get(f"{BASE}/service-performance", params=too_long, headers=admin.headers), 422, "report.bad_period"
    )


async def test_service_performance_defaults_to_the_last_twelve_months(client, actors, frozen_clock):
    admin = await actors.make("admin")
    body = (await client.get(f"{BASE}/service-performance", headers=admin.headers)).json()
    assert body["parameters"] == {"from": "2025-07-01", "to": "2026-06-15"}
    assert [row["month"] for row in body["rows"]][::11] == ["2025-07", "2026-06"]
    assert all(row["tickets"] == 0 and row["sla_breach_rate"] is None for row in body["rows"])


async def test_churn_xlsx_holds_real_dates(client, app, actors, frozen_clock):
    world = await activity_world(app, actors)
    response = await client.get(f"{BASE}/churn?format=xlsx", headers=world.executive.headers)
    assert response.headers["content-disposition"] == 'attachment; filename="churn.xlsx"'
    sheet = openpyxl.load_workbook(io.BytesIO(response.content))["Report"]
    first = [cell.value for cell in sheet[2]]
    assert first[1] == "Acme Co., Ltd." and first[3].date() == date(2026, 5, 10) and first[5].date() == date(2025, 5, 5)
    assert sheet.cell(row=2, column=4).number_format == "yyyy-mm-dd"
