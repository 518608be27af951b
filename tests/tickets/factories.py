from typing import Any

import httpx

URL = "/api/v1/service-tickets"


def ticket_body(customer_id: int, **overrides: Any) -> dict[str, Any]:
    return {
        "service_type": "complaint",
        "summary": "打印机无法开机",
        "customer_id": customer_id,
        "channel": "phone",
        "priority": "normal",
        "content": "客户来电：新买的打印机通电后无法开机",
    } | overrides


async def open_ticket(client: httpx.AsyncClient, actor: Any, customer_id: int, **overrides: Any) -> dict[str, Any]:
    response = await client.post(URL, json=ticket_body(customer_id, **overrides), headers=actor.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def act(client: httpx.AsyncClient, actor: Any, ticket_id: int, action: str, body: dict[str, Any]) -> httpx.Response:
    return await client.post(f"{URL}/{ticket_id}/{action}", json=body, headers=actor.headers)


async def assign(client, actor, ticket_id, assignee_id) -> httpx.Response:  # type: ignore[no-untyped-def]
    return await act(client, actor, ticket_id, "assign", {"assignee_id": assignee_id})


async def handle(client, actor, ticket_id, method="远程指导客户复位电源") -> httpx.Response:  # type: ignore[no-untyped-def]
    return await act(client, actor, ticket_id, "handle", {"method": method})


async def feedback(client, actor, ticket_id, satisfaction, result="客户确认已解决") -> httpx.Response:  # type: ignore[no-untyped-def]
    return await act(client, actor, ticket_id, "feedback", {"result": result, "satisfaction": satisfaction})
