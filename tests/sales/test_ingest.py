from decimal import Decimal

from sqlalchemy import func, select

from crm_api.models.platform import AuditEvent
from crm_api.models.sales import InventoryItem, Order, OrderLine, Product
from tests.factories import assert_problem, count_statements
from tests.sales.factories import integrator_key, line, make_customer, order, product, stock

PRODUCTS = "/api/v1/integrations/sales/products"
INVENTORY = "/api/v1/integrations/sales/inventory"
ORDERS = "/api/v1/integrations/sales/orders"


async def _rows(app, model):
    """Every row of a table as plain tuples, in id order: what "unchanged" is checked against."""
    async with app.state.db.sessionmaker() as session:
        columns = list(model.__table__.columns)
        return [tuple(r) for r in (await session.execute(select(*columns).order_by(model.id))).all()]


async def _count(app, model, *where):
    async with app.state.db.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where))


async def _seed_products(client, key, *external_ids):
    response = await client.put(PRODUCTS, json={"items": [product(e) for e in external_ids]}, headers=key)
    assert response.status_code == 200, response.text


async def test_sync_needs_an_integrator_key_or_admin(client, actors):
    for path in (PRODUCTS, INVENTORY, ORDERS):
        assert_problem(await client.put(path, json={"items": [product("P1")]}), 401, "auth.not_authenticated")
    manager = await actors.make("account_manager")
    for path, body in ((PRODUCTS, product("P1")), (INVENTORY, stock("S1", "P1")), (ORDERS, order("O1", "KH1"))):
        assert_problem(await client.put(path, json={"items": [body]}, headers=manager.headers), 403, "auth.missing_permission")
    admin = await actors.make("admin")
    assert (await client.put(PRODUCTS, json={"items": [product("P1")]}, headers=admin.headers)).status_code == 200


async def test_integrator_key_cannot_read_the_crm(client, actors):
    _, key = await integrator_key(client, actors)
    assert_problem(await client.get("/api/v1/products", headers=key), 403, "auth.missing_permission")


async def test_a_revoked_key_is_refused(client, actors, app):
    key_id, key = await integrator_key(client, actors)
    assert (await client.put(PRODUCTS, json={"items": [product("P1")]}, headers=key)).status_code == 200
    admin = await actors.make("admin")
    assert (await client.delete(f"/api/v1/api-keys/{key_id}", headers=admin.headers)).status_code == 204
    refused = await client.put(PRODUCTS, json={"items": [product("P2")]}, headers=key)
    assert_problem(refused, 401, "auth.invalid_api_key")
    assert await _count(app, Product) == 1


async def test_products_are_created_then_updated_by_external_id(client, actors, app):
    _, key = await integrator_key(client, actors)
    first = await client.put(PRODUCTS, json={"items": [product("P1"), product("P2")]}, headers=key)
    assert first.json() == {"created": 2, "updated": 0, "unchanged": 0}
    second = await client.put(
        PRODUCTS, json={"items": [product("P1", price="12.50", name="螺纹钢"), product("P2"), product("P3")]}, headers=key
    )
    assert second.json() == {"created": 1, "updated": 1, "unchanged": 1}
    rows = {row[1]: row for row in await _rows(app, Product)}
    assert set(rows) == {"P1", "P2", "P3"}
    assert rows["P1"][2] == "螺纹钢" and rows["P1"][6] == Decimal("12.50")


async def test_the_same_batch_twice_changes_nothing(client, actors, app):
    _, key = await integrator_key(client, actors)
    manager = await actors.make("account_manager")
    await make_customer(app, owner_id=manager.id, code="KH1")
    await make_customer(app, owner_id=manager.id, code="KH2", external_id="ERP-C2")
    products = {"items": [product("P1"), product("P2", price=None, model=None)]}
    inventory = {"items": [stock("S1", "P1"), stock("S2", "P2", warehouse="北京仓", location=None)]}
    orders = {
        "items": [
            order("O1", "KH1", lines=[line("P1", "3", "0.10"), line("P2", "2.5", "4.00")]),
            order("O2", None, customer_external_id="ERP-C2", status=2, lines=[line("P2")]),
        ]
    }
    batches = ((PRODUCTS, products), (INVENTORY, inventory), (ORDERS, orders))
    for path, body in batches:
        assert (await client.put(path, json=body, headers=key)).json()["created"] == 2
    tables = (Product, InventoryItem, Order, OrderLine, AuditEvent)
    before = {model: await _rows(app, model) for model in tables}

    for path, body in batches:
        again = await client.put(path, json=body, headers=key)
        assert again.json() == {"created": 0, "updated": 0, "unchanged": 2}
    assert {model: await _rows(app, model) for model in tables} == before


async def test_one_audit_event_per_batch_with_the_counts(client, actors, app):
    _, key = await integrator_key(client, actors)
    await client.put(PRODUCTS, json={"items": [product(f"P{i}") for i in range(5)]}, headers=key)
    async with app.state.db.sessionmaker() as session:
        events = (await session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "sales_batch"))).all()
    assert len(events) == 1
    assert events[0].entity_id == "products" and events[0].actor_label == "api-key:sales system"
    assert events[0].changes["created"]["after"] == 5 and events[0].changes["unchanged"]["after"] == 0


async def test_a_batch_with_one_bad_record_writes_nothing(client, actors, app):
    _, key = await integrator_key(client, actors)
    manager = await actors.make("account_manager")
    await make_customer(app, owner_id=manager.id, code="KH1")
    await _seed_products(client, key, "P1")
    items = [order(f"O{i}", "KH1") for i in range(5)]
    items[3] = order("O3", "KH-UNKNOWN")
    refused = assert_problem(await client.put(ORDERS, json={"items": items}, headers=key), 422, "sales.invalid_batch")
    assert refused["errors"] == [
        {"field": "items.3.customer", "message": "Unknown customer KH-UNKNOWN", "type": "unknown_reference"}
    ]
    assert await _count(app, Order) == 0
    assert await _count(app, OrderLine) == 0
    assert await _count(app, AuditEvent, AuditEvent.entity_id == "orders") == 0


async def test_every_bad_record_is_listed_with_its_index_and_field(client, actors, app):
    _, key = await integrator_key(client, actors)
    manager = await actors.make("account_manager")
    await make_customer(app, owner_id=manager.id, code="KH1")
    await _seed_products(client, key, "P1")
    items = [
        order("O0", "KH1"),
        order("O1", "KH1", lines=[line("P1"), line("NOPE")]),
        order("O2", "KH1", customer_external_id="ERP-1"),
        order("O0", "KH1", number="SO-other"),
        order("O4", "KH1", number="SO-O0"),
        order("O5", "KH1", lines=[line("P1", "3", "0.10")], total="0.31"),
    ]
    body = assert_problem(await client.put(ORDERS, json={"items": items}, headers=key), 422, "sales.invalid_batch")
    assert [(e["field"], e["type"]) for e in body["errors"]] == [
        ("items.1.lines.1.product_external_id", "unknown_reference"),
        ("items.2.customer", "value_error"),
        ("items.3.external_id", "duplicate"),
        ("items.4.number", "duplicate"),
        ("items.5.total", "total_mismatch"),
    ]
    assert body["detail"] == "5 of 6 records are invalid; nothing was written"


async def test_an_order_number_held_by_another_order_is_refused(client, actors, app):
    _, key = await integrator_key(client, actors)
    manager = await actors.make("account_manager")
    await make_customer(app, owner_id=manager.id, code="KH1")
    await _seed_products(client, key, "P1")
    await client.put(ORDERS, json={"items": [order("O1", "KH1", number="SO-1")]}, headers=key)
    clash = await client.put(ORDERS, json={"items": [order("O2", "KH1", number="SO-1")]}, headers=key)
    assert assert_problem(clash, 422, "sales.invalid_batch")["errors"][0]["field"] == "items.0.number"


async def test_inventory_refers_to_known_products(client, actors, app):
    _, key = await integrator_key(client, actors)
    await _seed_products(client, key, "P1")
    refused = await client.put(INVENTORY, json={"items": [stock("S1", "P1"), stock("S2", "P9")]}, headers=key)
    assert assert_problem(refused, 422, "sales.invalid_batch")["errors"][0]["field"] == "items.1.product_external_id"
    assert await _count(app, InventoryItem) == 0
    moved = await client.put(INVENTORY, json={"items": [stock("S1", "P1", quantity=7)]}, headers=key)
    assert moved.json()["created"] == 1


async def test_schema_errors_are_per_record_too(client, actors, app):
    _, key = await integrator_key(client, actors)
    items = [order("O1", "KH1"), order("O2", "KH1", status=7), order("O3", "KH1", owner_id=3)]
    body = assert_problem(await client.put(ORDERS, json={"items": items}, headers=key), 422, "validation_failed")
    assert {e["field"] for e in body["errors"]} == {"items.1.status", "items.2.owner_id"}
    cents = await client.put(PRODUCTS, json={"items": [product("P1", price="1.005")]}, headers=key)
    assert assert_problem(cents, 422)["errors"][0]["field"] == "items.0.price"
    assert await _count(app, Order) == 0


async def test_more_than_1000_records_is_refused(client, actors, app):
    _, key = await integrator_key(client, actors)
    refused = await client.put(PRODUCTS, json={"items": [product(f"P{i}") for i in range(1001)]}, headers=key)
    assert assert_problem(refused, 422)["errors"][0]["field"] == "items"
    assert await _count(app, Product) == 0
    empty = await client.put(PRODUCTS, json={"items": []}, headers=key)
    assert_problem(empty, 422)


async def test_order_total_is_the_sum_of_the_lines_to_the_cent(client, actors, app):
    _, key = await integrator_key(client, actors)
    manager = await actors.make("account_manager")
    await make_customer(app, owner_id=manager.id, code="KH1")
    await _seed_products(client, key, "P1", "P2")
    lines = [line("P1", "3", "0.10"), line("P2", "0.333", "0.30"), line("P1", "7", "0.10")]
    sent = await client.put(ORDERS, json={"items": [order("O1", "KH1", lines=lines, total="1.10")]}, headers=key)
    assert sent.status_code == 200, sent.text
    async with app.state.db.sessionmaker() as session:
        assert await session.scalar(select(Order.total)) == Decimal("1.10")  # 0.30 + 0.10 (0.0999) + 0.70


async def test_lines_are_replaced_wholesale_on_update(client, actors, app):
    _, key = await integrator_key(client, actors)
    manager = await actors.make("account_manager")
    await make_customer(app, owner_id=manager.id, code="KH1")
    await _seed_products(client, key, "P1", "P2")
    await client.put(ORDERS, json={"items": [order("O1", "KH1", lines=[line("P1"), line("P2")])]}, headers=key)
    changed = await client.put(
        ORDERS, json={"items": [order("O1", "KH1", status=6, lines=[line("P2", "4", "2.50")])]}, headers=key
    )
    assert changed.json() == {"created": 0, "updated": 1, "unchanged": 0}
    async with app.state.db.sessionmaker() as session:
        stored = (await session.execute(select(Order.status, Order.total))).one()
        lines = (await session.execute(select(OrderLine.line_no, OrderLine.product_name, OrderLine.quantity))).all()
    assert tuple(stored) == (6, Decimal("10.00"))
    assert [tuple(row) for row in lines] == [(1, "产品P2", Decimal("4.000"))]


async def test_a_full_batch_runs_a_bounded_number_of_statements(client, actors, app):
    _, key = await integrator_key(client, actors)
    manager = await actors.make("account_manager")
    await make_customer(app, owner_id=manager.id, code="KH1")
    await _seed_products(client, key, *(f"P{i}" for i in range(10)))
    items = [order(f"O{i}", "KH1", lines=[line(f"P{i % 10}"), line(f"P{(i + 1) % 10}")]) for i in range(1000)]
    with count_statements(app.state.db.engine) as created:
        assert (await client.put(ORDERS, json={"items": items}, headers=key)).json()["created"] == 1000
    for item in items:
        item["status"] = 6
    with count_statements(app.state.db.engine) as updated:
        assert (await client.put(ORDERS, json={"items": items}, headers=key)).json()["updated"] == 1000
    # Bulk statements are split into a few multi-row chunks by the driver, never one per record.
    assert len(created) < 40 and len(updated) < 40, (len(created), len(updated))
    assert await _count(app, OrderLine) == 2000
