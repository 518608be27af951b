from datetime import UTC, date, datetime

from tests.factories import assert_problem
from tests.marketing.factories import (
    create_campaign,
    create_segment,
    make_contact,
    make_customer,
    make_order,
    make_won_opportunity,
    running_campaign,
    touch,
)

URL = "/api/v1/marketing/attribution"


def utc(month: int, day: int, hour: int = 2) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


async def _example(app, client, actors):
    """Campaigns A (email, budget 100), B (sms, 200), C (email, 300) and their touches:

    customer X: A→x1 05-01, B→x2 05-10, C→x1 05-20; orders 05-15 1000.00 (A, B reached it) and 05-25 100.00
    (A, B, C); a pending order 05-25 5000.00 that never counts.
    customer Y: A→y1 05-05 02:00 UTC, B→y1 05-05 08:00 UTC; a win closed 05-05 04:00 UTC for 900.00 (only A was
    before it); an order 05-01 70.00 before any touch."""
    marketer = await actors.make("marketer")
    owner = await actors.make("account_manager")
    x = await make_customer(app, owner.id, name="X")
    y = await make_customer(app, owner.id, name="Y")
    x1, x2, y1 = await make_contact(app, x), await make_contact(app, x), await make_contact(app, y)
    segment = await create_segment(client, marketer)
    a = await running_campaign(client, marketer, segment["id"], name="A", budget="100.00", channel="email")
    b = await running_campaign(client, marketer, segment["id"], name="B", budget="200.00", channel="sms")
    c = await running_campaign(client, marketer, segment["id"], name="C", budget="300.00", channel="email")
    await create_campaign(client, marketer, name="draft, never touched")
    for campaign, contact, at in (
        (a, x1, utc(5, 1)),
        (b, x2, utc(5, 10)),
        (c, x1, utc(5, 20)),
        (a, y1, utc(5, 5, 2)),
        (b, y1, utc(5, 5, 8)),
    ):
        response = await touch(client, marketer.headers, campaign["id"], contact, "sent", at=at)
        assert response.status_code == 201, response.text
    await make_order(app, x, date(2026, 5, 15), "1000.00")
    await make_order(app, x, date(2026, 5, 25), "100.00", status=5)
    await make_order(app, x, date(2026, 5, 25), "5000.00", status=3)
    await make_order(app, y, date(2026, 5, 1), "70.00")
    await make_won_opportunity(app, y, owner.id, "900.00", utc(5, 5, 4))
    return marketer


async def _report(client, actor, **params) -> dict:
    response = await client.get(URL, params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    return response.json()


def _by_name(report: dict) -> dict[str, tuple[str, int, str | None]]:
    return {row["name"]: (row["attributed_revenue"], row["conversions"], row["roi"]) for row in report["campaigns"]}


def _channels(report: dict) -> dict[str, tuple[str, str, str | None]]:
    return {row["channel"]: (row["budget"], row["attributed_revenue"], row["roi"]) for row in report["channels"]}


async def test_first_touch_credits_the_earliest_campaign(app, client, actors):
    marketer = await _example(app, client, actors)
    report = await _report(client, marketer, model="first_touch")
    assert _by_name(report) == {"A": ("2000.00", 3, "19.00"), "B": ("0.00", 0, "-1.00"), "C": ("0.00", 0, "-1.00")}
    assert _channels(report) == {"email": ("400.00", "2000.00", "4.00"), "sms": ("200.00", "0.00", "-1.00")}


async def test_last_touch_credits_the_latest_campaign_before_the_sale(app, client, actors):
    marketer = await _example(app, client, actors)
    report = await _report(client, marketer, model="last_touch")
    # The win goes to A: B's touch came four hours after it.
    assert _by_name(report) == {"A": ("900.00", 1, "8.00"), "B": ("1000.00", 1, "4.00"), "C": ("100.00", 1, "-0.67")}
    assert _channels(report) == {"email": ("400.00", "1000.00", "1.50"), "sms": ("200.00", "1000.00", "4.00")}


async def test_linear_splits_each_sale_evenly_to_the_cent(app, client, actors):
    marketer = await _example(app, client, actors)
    report = await _report(client, marketer, model="linear")
    # A: 1000/2 + 100/3 + 900 = 1433.33; B: 1000/2 + 100/3 = 533.33; C: 100/3 = 33.33.
    assert _by_name(report) == {
        "A": ("1433.33", 3, "13.33"),
        "B": ("533.33", 2, "1.67"),
        "C": ("33.33", 1, "-0.89"),
    }
    # Channel totals are summed from the campaigns' cents: email 1433.33 + 33.33 on a 400.00 budget.
    assert _channels(report) == {"email": ("400.00", "1466.66", "2.67"), "sms": ("200.00", "533.33", "1.67")}


async def test_period_limits_the_sales_counted(app, client, actors):
    marketer = await _example(app, client, actors)
    report = await _report(client, marketer, model="last_touch", **{"from": "2026-05-20", "to": "2026-05-31"})
    assert _by_name(report) == {"A": ("0.00", 0, "-1.00"), "B": ("0.00", 0, "-1.00"), "C": ("100.00", 1, "-0.67")}
    only_win = await _report(client, marketer, model="first_touch", **{"from": "2026-05-05", "to": "2026-05-05"})
    assert _by_name(only_win)["A"] == ("900.00", 1, "8.00")
    assert_problem(
        await client.get(URL, params={"from": "2026-06-01", "to": "2026-05-01"}, headers=marketer.headers),
        422,
        "attribution.period_reversed",
    )
    assert_problem(await client.get(URL, params={"model": "u_shaped"}, headers=marketer.headers), 422)


async def test_attribution_permissions(client, actors):
    assert_problem(await client.get(URL), 401)
    manager = await actors.make("account_manager")
    assert_problem(await client.get(URL, headers=manager.headers), 403, "auth.missing_permission")
    for role in ("marketer", "executive", "admin"):
        actor = await actors.make(role)
        assert (await client.get(URL, headers=actor.headers)).status_code == 200
