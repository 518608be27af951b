from datetime import date, timedelta

from sqlalchemy import select

from crm_api.models.sales import Order
from tests.factories import assert_problem
from tests.sales.factories import integrator_key, line, make_customer, order, product

ORDERS = "/api/v1/integrations/sales/orders"


async def _setup(client, actors, app):
    """Two account managers of one team, each with a customer; an integrator key with two products."""
    _, key = await integrator_key(client, actors)
    a = await actors.make("account_manager", team="East")
    b = await actors.make("account_manager", team="East")
    customer_a = await make_customer(app, owner_id=a.id, code="KH-A")
    customer_b = await make_customer(app, owner_id=b.id, code="KH-B")
    products = {"items": [product("P1", name="螺纹钢"), product("P2", name="角钢")]}
    assert (await client.put("/api/v1/integrations/sales/products", json=products, headers=key)).status_code == 200
    return key, a, b, customer_a, customer_b


async def _push(client, key, *orders):
    response = await client.put(ORDERS, json={"items": list(orders)}, headers=key)
    assert response.status_code == 200, response.text


async def _order_id(app, number):
    async with app.state.db.sessionmaker() as session:
        return await session.scalar(select(Order.id).where(Order.number == number))


async def test_history_shows_only_shipped_and_paid_orders_newest_first(client, actors, app):
    key, a, _, customer_a, _ = await _setup(client, actors, app)
    start = date(2026, 1, 1)
    await _push(
        client,
        key,
        *(order(f"O{status}", "KH-A", status=status, order_date=start + timedelta(days=status)) for status in range(1, 7)),
        order("O7", "KH-A", status=5, order_date=start + timedelta(days=6)),
    )
    response = await client.get(f"/api/v1/customers/{customer_a}/orders", headers=a.headers)
    assert response.status_code == 200
    items = response.json()["items"]
    assert [(i["number"], i["status"], i["order_date"]) for i in items] == [
        ("SO-O7", 5, "2026-01-07"),
        ("SO-O6", 6, "2026-01-07"),
        ("SO-O5", 5, "2026-01-06"),
    ]
    assert items[0]["shipping_address"] == "上海市浦东新区世纪大道1号" and items[0]["total"] == "10.00"


async def test_history_pages_with_a_cursor(client, actors, app):
    key, a, _, customer_a, _ = await _setup(client, actors, app)
    await _push(
        client,
        key,
        *(order(f"O{i:02d}", "KH-A", status=6, order_date=date(2026, 1, 1) + timedelta(days=i // 2)) for i in range(25)),
    )
    url = f"/api/v1/customers/{customer_a}/orders"
    seen, cursor = [], None
    while True:
        params = {"limit": 10} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(url, params=params, headers=a.headers)).json()
        seen += [(item["order_date"], item["id"]) for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 25 and len(set(seen)) == 25
    assert seen == sorted(seen, reverse=True)
    total = (await client.get(url, params={"with_total": True}, headers=a.headers)).json()["total"]
    assert total == 25


async def test_another_managers_customer_and_its_orders_are_404(client, actors, app):
    key, a, b, _, customer_b = await _setup(client, actors, app)
    await _push(client, key, order("OB", "KH-B"))
    order_b = await _order_id(app, "SO-OB")
    assert_problem(await client.get(f"/api/v1/customers/{customer_b}/orders", headers=a.headers), 404, "customer.not_found")
    assert_problem(await client.get(f"/api/v1/orders/{order_b}", headers=a.headers), 404, "order.not_found")
    assert (await client.get(f"/api/v1/orders/{order_b}", headers=b.headers)).status_code == 200


async def test_a_visible_customer_without_orders_has_an_empty_history_not_a_404(client, actors, app):
    _, a, _, customer_a, customer_b = await _setup(client, actors, app)
    response = await client.get(f"/api/v1/customers/{customer_a}/orders", headers=a.headers)
    assert response.status_code == 200
    assert (response.json()["items"], response.json()["next_cursor"]) == ([], None)
    assert_problem(await client.get(f"/api/v1/customers/{customer_b}/orders", headers=a.headers), 404, "customer.not_found")


async def test_supervisor_sees_the_teams_orders_and_executive_all(client, actors, app):
    key, _, _, _, _ = await _setup(client, actors, app)
    await _push(client, key, order("OB", "KH-B"))
    order_b = await _order_id(app, "SO-OB")
    east = await actors.make("sales_supervisor", team="East")
    south = await actors.make("sales_supervisor", team="South")
    executive = await actors.make("executive")
    assert (await client.get(f"/api/v1/orders/{order_b}", headers=east.headers)).status_code == 200
    assert (await client.get(f"/api/v1/orders/{order_b}", headers=executive.headers)).status_code == 200
    assert_problem(await client.get(f"/api/v1/orders/{order_b}", headers=south.headers), 404)


async def test_orders_of_a_deleted_customer_are_404(client, actors, app):
    key, a, _, _, _ = await _setup(client, actors, app)
    gone = await make_customer(app, owner_id=a.id, code="KH-GONE", deleted=True)
    await _push(client, key, order("OG", "KH-GONE"))
    admin = await actors.make("admin")
    assert_problem(await client.get(f"/api/v1/customers/{gone}/orders", headers=admin.headers), 404)
    assert_problem(await client.get("/api/v1/customers/999999/orders", headers=admin.headers), 404)
    assert_problem(await client.get("/api/v1/orders/999999", headers=admin.headers), 404, "order.not_found")


async def test_order_routes_need_customer_read(client, actors, app):
    key, _, _, customer_a, _ = await _setup(client, actors, app)
    assert_problem(await client.get(f"/api/v1/customers/{customer_a}/orders"), 401)
    assert_problem(await client.get("/api/v1/orders/1"), 401)
    marketer = await actors.make("marketer")
    assert_problem(await client.get(f"/api/v1/customers/{customer_a}/orders", headers=marketer.headers), 403)
    assert_problem(await client.get("/api/v1/orders/1", headers=marketer.headers), 403)
    assert_problem(await client.get("/api/v1/orders/1", headers=key), 403)


async def test_order_detail_has_lines_and_a_total_equal_to_their_sum(client, actors, app):
    key, a, _, customer_a, _ = await _setup(client, actors, app)
    lines = [line("P1", "3", "0.10"), line("P2", "1.5", "0.07", unit="吨")]
    await _push(client, key, order("O1", "KH-A", status=3, lines=lines))
    admin = await actors.make("admin")
    listed = (await client.get(f"/api/v1/customers/{customer_a}/orders", headers=admin.headers)).json()["items"]
    assert listed == []  # status 3 is not history, but the order itself is readable
    response = await client.get(f"/api/v1/orders/{await _order_id(app, 'SO-O1')}", headers=a.headers)
    assert response.status_code == 200 and response.headers["etag"]
    detail = response.json()
    assert [
        (line["line_no"], line["product_name"], line["quantity"], line["unit"], line["unit_price"], line["amount"])
        for line in detail["lines"]
    ] == [
        (1, "螺纹钢", "3.000", "件", "0.10", "0.30"),
        (2, "角钢", "1.500", "吨", "0.07", "0.11"),
    ]
    assert detail["total"] == "0.41" and detail["status"] == 3 and detail["customer_id"] == customer_a
