"""Customers, contacts and interactions made through the API, as a user would."""

from typing import Any

import httpx

from tests.factories import Actor

BASE = "/api/v1/customers"


async def make_customer(client: httpx.AsyncClient, owner: Actor, **fields: Any) -> dict[str, Any]:
    body = {"name": "上海华信科技有限公司", "region": "shanghai", "level": "major", "phone": "021-6234 5678"} | fields
    response = await client.post(BASE, json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def make_contact(client: httpx.AsyncClient, owner: Actor, customer_id: int, **fields: Any) -> dict[str, Any]:
    body = {"name": "陈静", "gender": "female", "title": "采购经理", "office_phone": "021-62345679"} | fields
    response = await client.post(f"{BASE}/{customer_id}/contacts", json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def make_interaction(client: httpx.AsyncClient, owner: Actor, customer_id: int, **fields: Any) -> dict[str, Any]:
    body = {
        "occurred_on": "2026-06-01", "location": "客户总部", "summary": "季度回访", "details": "讨论了下季度的采购计划",
    } | fields
    response = await client.post(f"{BASE}/{customer_id}/interactions", json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def audit_of(client: httpx.AsyncClient, admin: Actor, entity_type: str, entity_id: int) -> list[dict[str, Any]]:
    """Audit events of one record, oldest first."""
    response = await client.get(
        "/api/v1/audit-events", params={"entity_type": entity_type, "entity_id": str(entity_id)}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    return list(reversed(response.json()["items"]))
