from datetime import date

from sqlalchemy import func, select

from crm_api.core.scheduler import JOBS
from crm_api.models.marketing import Segment
from tests.factories import assert_problem
from tests.marketing.factories import SEGMENTS, create_campaign, create_segment, make_customer, make_order


async def _member_names(client, actor, segment_id: int, **params) -> list[str]:
    response = await client.get(f"{SEGMENTS}/{segment_id}/customers", params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["items"]]


async def _count(client, actor, segment_id: int) -> int:
    response = await client.get(f"{SEGMENTS}/{segment_id}/count", headers=actor.headers)
    assert response.status_code == 200, response.text
    return response.json()["customers"]


async def test_segments_need_marketing_permissions(client, actors):
    marketer = await actors.make("marketer")
    manager = await actors.make("account_manager")
    executive = await actors.make("executive")
    segment = await create_segment(client, marketer, name="华东大客户", region="shanghai")
    url = f"{SEGMENTS}/{segment['id']}"
    for path in (SEGMENTS, url, f"{url}/customers", f"{url}/count"):
        assert_problem(await client.get(path), 401)
        assert_problem(await client.get(path, headers=manager.headers), 403, "auth.missing_permission")
        assert (await client.get(path, headers=executive.headers)).status_code == 200
        assert (await client.get(path, headers=marketer.headers)).status_code == 200
    assert_problem(await client.post(SEGMENTS, json={"name": "x"}, headers=executive.headers), 403)
    assert_problem(await client.post(f"{SEGMENTS}/rfm/refresh", headers=manager.headers), 403)
    assert_problem(await client.get(f"{SEGMENTS}/999999", headers=marketer.headers), 404, "segment.not_found")
    assert_problem(await client.get(f"{SEGMENTS}/999999/count", headers=marketer.headers), 404, "segment.not_found")


async def test_segment_evaluates_the_customer_filters_live(app, client, actors):
    marketer = await actors.make("marketer")
    li = await actors.make("account_manager")
    wang = await actors.make("account_manager")
    await make_customer(app, li.id, name="上海华信科技", region="shanghai", level="major", tags=("vip",))
    await make_customer(app, wang.id, name="上海明达机械", region="shanghai", level="major", tags=("vip", "machinery"))
    await make_customer(app, li.id, name="上海远东贸易", region="shanghai", level="regular", tags=("vip",))
    await make_customer(app, li.id, name="北京华信软件", region="beijing", level="major", tags=("vip",))
    await make_customer(app, li.id, name="上海华信已流失", region="shanghai", level="major", status="churned", tags=("vip",))
    await make_customer(app, li.id, name="上海华信已删除", region="shanghai", level="major", tags=("vip",), deleted=True)

    segment = await create_segment(client, marketer, region="shanghai", level="major", status="active", tag="vip")
    assert await _member_names(client, marketer, segment["id"]) == ["上海明达机械", "上海华信科技"]
    assert await _count(client, marketer, segment["id"]) == 2
    narrowed = await create_segment(client, marketer, region="shanghai", owner_id=li.id, q="华信")
    assert await _member_names(client, marketer, narrowed["id"]) == ["上海华信已流失", "上海华信科技"]

    # Live: a new matching customer is a member at once; keyset pages walk all of them.
    await make_customer(app, wang.id, name="上海新客户", region="shanghai", level="major", tags=("vip",))
    first = await client.get(
        f"{SEGMENTS}/{segment['id']}/customers", params={"limit": 2, "with_total": "true"}, headers=marketer.headers
    )
    assert [c["name"] for c in first.json()["items"]] == ["上海新客户", "上海明达机械"]
    assert first.json()["total"] == 3
    rest = await _member_names(client, marketer, segment["id"], limit=2, cursor=first.json()["next_cursor"])
    assert rest == ["上海华信科技"]


async def test_segment_by_last_order_date(app, client, actors):
    marketer = await actors.make("marketer")
    owner = await actors.make("account_manager")
    recent = await make_customer(app, owner.id, name="近期下单")
    old = await make_customer(app, owner.id, name="久未下单")
    await make_customer(app, owner.id, name="从未下单")
    await make_order(app, recent, date(2026, 5, 1), "100.00")
    await make_order(app, old, date(2025, 3, 1), "100.00")
    await make_order(app, old, date(2026, 5, 20), "100.00", status=2)  # not shipped: does not count

    quiet = await create_segment(client, marketer, last_order_before="2026-01-01")
    active = await create_segment(client, marketer, last_order_after="2026-01-01")
    assert await _member_names(client, marketer, quiet["id"]) == ["久未下单"]
    assert await _member_names(client, marketer, active["id"]) == ["近期下单"]


async def test_bad_segment_input_is_422_and_writes_nothing(app, client, actors):
    marketer = await actors.make("marketer")
    bad = [
        {"name": "x", "filters": {"colour": "red"}},
        {"name": "x", "filters": {"recency_min": 4, "recency_max": 2}},
        {"name": "x", "filters": {"monetary_min": 6}},
        {"name": "x", "filters": {"last_order_before": "soon"}},
        {"name": "", "filters": {}},
        {"name": "x", "created_by_id": 1},
    ]
    for body in bad:
        assert_problem(await client.post(SEGMENTS, json=body, headers=marketer.headers), 422)
    async with app.state.db.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Segment)) == 0


async def test_update_with_if_match_name_clash_and_delete(client, actors):
    marketer = await actors.make("marketer")
    segment = await create_segment(client, marketer, name="上海", region="shanghai")
    await create_segment(client, marketer, name="北京", region="beijing")
    url = f"{SEGMENTS}/{segment['id']}"
    etag = (await client.get(url, headers=marketer.headers)).headers["ETag"]

    changed = await client.patch(
        url, json={"filters": {"region": "shanghai", "level": "major"}}, headers=marketer.headers | {"If-Match": etag}
    )
    assert changed.status_code == 200, changed.text
    filters = {key: value for key, value in changed.json()["filters"].items() if value is not None}
    assert filters == {"region": "shanghai", "level": "major"}
    stale = await client.patch(url, json={"name": "上海2"}, headers=marketer.headers | {"If-Match": etag})
    assert_problem(stale, 412)
    assert_problem(await client.patch(url, json={"name": "北京"}, headers=marketer.headers), 409, "segment.name_taken")
    assert_problem(await client.patch(url, json={"filters": None}, headers=marketer.headers), 422)

    await create_campaign(client, marketer, segment_id=segment["id"])
    assert_problem(await client.delete(url, headers=marketer.headers), 409, "segment.in_use")
    other = await create_segment(client, marketer, name="华南")
    assert (await client.delete(f"{SEGMENTS}/{other['id']}", headers=marketer.headers)).status_code == 204
    assert_problem(await client.get(f"{SEGMENTS}/{other['id']}", headers=marketer.headers), 404)


async def _scores(client, actor) -> dict[str, tuple[int, int, int]]:
    """Each scored customer's (recency, frequency, monetary), read back through one-score segments."""
    scores: dict[str, list[int]] = {}
    for score in ("recency", "frequency", "monetary"):
        for value in range(1, 6):
            segment = await create_segment(client, actor, **{f"{score}_min": value, f"{score}_max": value})
            for name in await _member_names(client, actor, segment["id"]):
                scores.setdefault(name, []).append(value)
    return {name: tuple(values) for name, values in scores.items()}  # type: ignore[misc]


async def test_rfm_quintiles_over_the_last_twelve_months(app, client, actors, frozen_clock):
    marketer = await actors.make("marketer")
    owner = await actors.make("account_manager")
    # Today is 2026-06-15: the window starts 2025-06-15.
    plans = {
        "A": [(date(2026, 6, 1), "100.00"), (date(2025, 6, 14), "9999.00")],  # the second is outside the window
        "B": [(date(2025, 8, 1), "1000.00"), (date(2025, 9, 1), "1000.00")],
        "C": [(date(2026, 1, 10), "50.00"), (date(2026, 2, 10), "50.00"), (date(2026, 3, 10), "50.00")],
        "D": [(date(2026, m, 1), "300.00") for m in (2, 3, 4, 5)],
        "E": [(date(2025, m, 1), "10.00") for m in (7, 8, 9, 10, 11)],
    }
    for name, orders in plans.items():
        customer_id = await make_customer(app, owner.id, name=name)
        for day, total in orders:
            await make_order(app, customer_id, day, total)
    e_id = await make_customer(app, owner.id, name="pending only")
    await make_order(app, e_id, date(2026, 6, 1), "5000.00", status=3)
    gone = await make_customer(app, owner.id, name="deleted", deleted=True)
    await make_order(app, gone, date(2026, 6, 1), "5000.00")

    refreshed = await client.post(f"{SEGMENTS}/rfm/refresh", headers=marketer.headers)
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json() == {"outcome": "succeeded", "scored": 5}
    # Recency by last order (B oldest … A newest), frequency by count, monetary by total (E 50 … B 2000).
    expected = {"A": (5, 1, 2), "B": (1, 2, 5), "C": (3, 3, 3), "D": (4, 4, 4), "E": (2, 5, 1)}
    assert await _scores(client, marketer) == expected

    # A refresh replaces the scores: D's new big order makes it the top spender.
    d_id = await make_customer(app, owner.id, name="F")
    await make_order(app, d_id, date(2026, 6, 10), "1.00")
    again = await client.post(f"{SEGMENTS}/rfm/refresh", headers=marketer.headers)
    assert again.json()["scored"] == 6
    recent = await create_segment(client, marketer, recency_min=5)
    assert await _member_names(client, marketer, recent["id"]) == ["F"]


def test_rfm_refresh_is_a_nightly_job():
    assert JOBS["rfm_refresh"].cron(None) == "30 1 * * *"  # type: ignore[arg-type]
