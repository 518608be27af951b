from typing import Any

import httpx

from tests.factories import Actor, Actors

API = "/api/v1/quotes"
PRODUCTS = "/api/v1/products"
FLOWS = "/api/v1/approval-flows"


async def make_product(client: httpx.AsyncClient, admin: Actor, code: str, price: str = "100.00", **fields: Any) -> int:
    body = {"code": code, "name": f"产品 {code}", "model": f"M-{code}", "unit": "件", "price": price} | fields
    response = await client.post(PRODUCTS, json=body, headers=admin.headers)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def make_customer(client: httpx.AsyncClient, owner: Actor, name: str = "上海华信科技有限公司") -> int:
    # No phone: two customers of a test would be duplicates by it (409 customer.duplicate).
    body = {"name": name, "region": "shanghai", "level": "major"}
    response = await client.post("/api/v1/customers", json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def supervisor_flow(client: httpx.AsyncClient, admin: Actor) -> None:
    step = {"name": "销售主管", "approver_kind": "team_role", "approver_role": "sales_supervisor"}
    response = await client.put(f"{FLOWS}/quote", json={"name": "报价审批", "steps": [step]}, headers=admin.headers)
    assert response.status_code == 200, response.text


class Desk:
    """An admin, an account manager with a customer, and the manager's supervisor, with one product at 100.00."""

    def __init__(self, client: httpx.AsyncClient, actors: Actors) -> None:
        self.client, self.actors = client, actors

    async def set_up(self) -> "Desk":
        self.admin = await self.actors.make("admin")
        self.manager = await self.actors.make("account_manager", team="east")
        self.supervisor = await self.actors.make("sales_supervisor", team="east")
        self.customer_id = await make_customer(self.client, self.manager)
        self.product_id = await make_product(self.client, self.admin, "P-100")
        return self

    async def quote(self, *, discount: str = "0", actor: Actor | None = None, **fields: Any) -> dict[str, Any]:
        line = {"product_id": self.product_id, "quantity": "2", "discount_percent": discount}
        body = {"customer_id": self.customer_id, "title": "年度采购报价", "lines": [line]} | fields
        response = await self.client.post(API, json=body, headers=(actor or self.manager).headers)
        assert response.status_code == 201, response.text
        return response.json()

    async def act(self, quote_id: int, action: str, actor: Actor | None = None, **body: Any) -> httpx.Response:
        return await self.client.post(f"{API}/{quote_id}/{action}", json=body or None, headers=(actor or self.manager).headers)
