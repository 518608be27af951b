"""Custom field definitions made through the API, as an admin would."""

from typing import Any

import httpx

from tests.factories import Actor

BASE = "/api/v1/custom-fields"


async def define_field(
    client: httpx.AsyncClient, admin: Actor, entity: str, key: str, field_type: str = "text", **fields: Any
) -> dict[str, Any]:
    body = {"key": key, "label": key.replace("_", " ").title(), "type": field_type} | fields
    response = await client.post(f"{BASE}/{entity}", json=body, headers=admin.headers)
    assert response.status_code == 201, response.text
    return response.json()
