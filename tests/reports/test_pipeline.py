from datetime import UTC, datetime

import pytest

from tests.factories import assert_problem
from tests.reports.factories import add_opportunity, report_world

BASE = "/api/v1/reports"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


async def pipeline_world(app, actors):
    """The report world plus opportunities; East's are created by its supervisor, South's by theirs.

    stage / status / assignee / created / assigned / closed / expected amount:
      initial_contact  unassigned  -         2026-01-05                           1000.10
      initial_contact  assigned    li.na     2026-01-06  2026-02-01               0.20
      proposal         assigned    li.na     2026-01-07  2026-03-01               5000.00
      needs_confirmed  won         li.na     2026-01-08  2026-01-10  +10.5 days   2000.00
      negotiation      lost        wang.fang 2026-01-09  2026-02-01  2026-03-01   -
      proposal         won         wang.fang 2026-01-10  2026-04-01  +3 days      300.00
      initial_contact  assigned    li.na     2025-06-01  (outside every period asked for)
      negotiation      won         li.na     2026-01-15  2026-02-01  +3 days      100.00
    """
    world = await report_world(app, actors)
    south_supervisor = await actors.make("sales_supervisor", team="South")
    east, south = world.east_manager.id, world.south_manager.id
    async with app.state.db.sessionmaker() as session, session.begin():
        sup = world.supervisor.id
        for stage, status, creator, assignee, created, assigned, closed, amount in (
            ("initial_contact", "unassigned", sup, None, utc(2026, 1, 5), None, None, "1000.10"),
            ("initial_contact", "assigned", sup, east, utc(2026, 1, 6), utc(2026, 2, 1), None, "0.20"),
            ("proposal", "assigned", sup, east, utc(2026, 1, 7), utc(2026, 3, 1), None, "5000.00"),
            ("needs_confirmed", "won", sup, east, utc(2026, 1, 8), utc(2026, 1, 10), utc(2026, 1, 20, 12), "2000.00"),
            ("negotiation", "lost", south_supervisor.id, south, utc(2026, 1, 9), utc(2026, 2, 1), utc(2026, 3, 1), None),
            ("proposal", "won", south_supervisor.id, south, utc(2026, 1, 10), utc(2026, 4, 1), utc(2026, 4, 4), "300.00"),
            ("initial_contact", "assigned", sup, east, utc(2025, 6, 1), utc(2025, 6, 2), None, "777.00"),
            ("negotiation", "won", sup, east, utc(2026, 1, 15), utc(2026, 2, 1), utc(2026, 2, 4), "100.00"),
        ):
            await add_opportunity(
                session,
                stage=stage,
                status=status,
                created_by=creator,
                assignee=assignee,
                created_at=created,
                assigned_at=assigned,
                closed_at=closed,
                amount=amount,
            )
    return world


@pytest.mark.parametrize("endpoint", ["sales-funnel", "sales-performance"])
async def test_pipeline_reports_need_the_reports_permission(client, actors, endpoint):
    assert_problem(await client.get(f"{BASE}/{endpoint}"), 401, "auth.not_authenticated")
    for role in ("account_manager", "marketer"):
        user = await actors.make(role)
        assert_problem(await client.get(f"{BASE}/{endpoint}", headers=user.headers), 403, "auth.missing_permission")
    executive = await actors.make("executive")
    assert (await client.get(f"{BASE}/{endpoint}", headers=executive.headers)).status_code == 200
    # The calendar's edges: its last day has no day after; a year before 1900 is refused, not a server error.
    last_days = {"from": "9999-01-01", "to": "9999-12-31"}
    assert (await client.get(f"{BASE}/{endpoint}", params=last_days, headers=executive.headers)).status_code == 200
    too_early = await client.get(f"{BASE}/{endpoint}", params={"to": "0001-01-01"}, headers=executive.headers)
    assert_problem(too_early, 422)


def _funnel(body):
    return [(r["stage"], r["total"], r["expected_amount"], r["reached"], r["conversion"]) for r in body["rows"]]


async def test_sales_funnel_counts_amounts_and_conversion(client, app, actors, frozen_clock):
    world = await pipeline_world(app, actors)
    period = {"from": "2026-01-01", "to": "2026-06-15"}
    body = (await client.get(f"{BASE}/sales-funnel", params=period, headers=world.executive.headers)).json()
    # Reached: at the stage or later, or won earlier (a win passes every stage). The 2025 one is outside.
    assert _funnel(body) == [
        ("initial_contact", 2, "1000.30", 7, "71.43"),
        ("needs_confirmed", 1, "2000.00", 5, "100.00"),
        ("proposal", 2, "5300.00", 5, "80.00"),
        ("negotiation", 2, "100.00", 4, "75.00"),
    ]
    first = body["rows"][0]
    assert (first["unassigned"], first["assigned"], first["won"], first["lost"]) == (1, 1, 0, 0)
    assert body["totals"]["total"] == 7 and body["totals"]["won"] == 3 and body["totals"]["expected_amount"] == "8400.30"

    mine = (
        await client.get(
            f"{BASE}/sales-funnel", params=period | {"owner_id": world.east_manager.id}, headers=world.executive.headers
        )
    ).json()
    assert [(r["total"], r["reached"], r["conversion"]) for r in mine["rows"]] == [
        (1, 4, "75.00"),
        (1, 3, "100.00"),
        (1, 3, "66.67"),
        (1, 2, "100.00"),
    ]
    east = (await client.get(f"{BASE}/sales-funnel", params=period, headers=world.supervisor.headers)).json()
    assert [r["total"] for r in east["rows"]] == [2, 1, 1, 1]


async def test_sales_funnel_refuses_a_backwards_period(client, actors):
    admin = await actors.make("admin")
    response = await client.get(f"{BASE}/sales-funnel", params={"from": "2026-05-01", "to": "2026-04-01"}, headers=admin.headers)
    assert_problem(response, 422, "report.bad_period")


async def test_sales_performance_per_account_manager(client, app, actors, frozen_clock):
    world = await pipeline_world(app, actors)
    period = {"from": "2026-01-01", "to": "2026-06-15"}
    body = (await client.get(f"{BASE}/sales-performance", params=period, headers=world.executive.headers)).json()
    rows = {
        r["name"]: (r["assigned"], r["won"], r["lost"], r["win_rate"], r["median_days_to_win"], r["revenue"])
        for r in body["rows"]
    }
    # li.na won after 10.5 and 3 days: median 6.75; revenue is her customers' 2026 orders (100.10 + 0.10 + 0.20).
    assert rows == {
        "Li.Na": (4, 2, 0, "100.00", "6.75", "100.40"),
        "Wang.Fang": (2, 1, 1, "50.00", "3.00", "220.00"),
    }
    assert body["totals"] == {"assigned": 6, "won": 3, "lost": 1, "win_rate": "75.00", "revenue": "320.40"}
    east = (await client.get(f"{BASE}/sales-performance", params=period, headers=world.supervisor.headers)).json()
    assert [r["name"] for r in east["rows"]] == ["Li.Na"]
