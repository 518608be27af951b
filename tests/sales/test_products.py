from sqlalchemy import select

from crm_api.models.sales import Product
from tests.factories import assert_problem
from tests.sales.factories import integrator_key, product, stock


async def _catalogue(client, actors):
    _, key = await integrator_key(client, actors)
    products = [
        product("P1", name="热轧螺纹钢", model="HRB400", batch="2026A"),
        product("P2", name="冷轧钢板", model="SPCC-1", batch="2026B"),
        product("P3", name="不锈钢管_100%", model="hrb-304", batch="2025A"),
    ]
    assert (await client.put("/api/v1/integrations/sales/products", json={"items": products}, headers=key)).status_code == 200
    inventory = [
        stock("S1", "P1", warehouse="上海仓", quantity=10),
        stock("S2", "P1", warehouse="广州仓", quantity=3),
        stock("S3", "P2", warehouse="上海仓", quantity=8),
    ]
    assert (await client.put("/api/v1/integrations/sales/inventory", json={"items": inventory}, headers=key)).status_code == 200


async def _names(client, url, headers, **params):
    response = await client.get(url, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return sorted(item.get("external_id") for item in response.json()["items"])


async def test_products_search_by_name_model_and_batch(client, actors):
    await _catalogue(client, actors)
    manager = await actors.make("account_manager")
    url = "/api/v1/products"
    assert await _names(client, url, manager.headers) == ["P1", "P2", "P3"]
    assert await _names(client, url, manager.headers, name="钢板") == ["P2"]
    assert await _names(client, url, manager.headers, model="hrb") == ["P1", "P3"]
    assert await _names(client, url, manager.headers, batch="2026") == ["P1", "P2"]
    assert await _names(client, url, manager.headers, model="hrb", batch="2025") == ["P3"]
    # LIKE wildcards in the search text are matched literally.
    assert await _names(client, url, manager.headers, name="_100%") == ["P3"]
    assert await _names(client, url, manager.headers, name="%") == ["P3"]


async def test_product_detail(client, actors, app):
    await _catalogue(client, actors)
    manager = await actors.make("account_manager")
    async with app.state.db.sessionmaker() as session:
        product_id = await session.scalar(select(Product.id).where(Product.external_id == "P1"))
    response = await client.get(f"/api/v1/products/{product_id}", headers=manager.headers)
    assert response.status_code == 200 and response.headers["etag"]
    assert response.json()["name"] == "热轧螺纹钢" and response.json()["price"] == "10.00"
    assert_problem(await client.get("/api/v1/products/999999", headers=manager.headers), 404, "product.not_found")


async def test_inventory_by_product_and_warehouse(client, actors, app):
    await _catalogue(client, actors)
    manager = await actors.make("account_manager")
    url = "/api/v1/inventory"
    async with app.state.db.sessionmaker() as session:
        p1 = await session.scalar(select(Product.id).where(Product.external_id == "P1"))
    assert await _names(client, url, manager.headers) == ["S1", "S2", "S3"]
    assert await _names(client, url, manager.headers, product_id=p1) == ["S1", "S2"]
    assert await _names(client, url, manager.headers, product_name="冷轧") == ["S3"]
    assert await _names(client, url, manager.headers, warehouse="上海仓") == ["S1", "S3"]
    assert await _names(client, url, manager.headers, product_id=p1, warehouse="广州仓") == ["S2"]
    item = (await client.get(url, params={"warehouse": "广州仓"}, headers=manager.headers)).json()["items"][0]
    assert item["product_name"] == "热轧螺纹钢" and item["quantity"] == 3 and item["location"] == "A-01"


async def test_catalogue_needs_products_read(client, actors):
    for url in ("/api/v1/products", "/api/v1/products/1", "/api/v1/inventory"):
        assert_problem(await client.get(url), 401)
    marketer = await actors.make("marketer")
    for url in ("/api/v1/products", "/api/v1/products/1", "/api/v1/inventory"):
        assert_problem(await client.get(url, headers=marketer.headers), 403, "auth.missing_permission")
