"""Customers straight in the database (the customers API is another domain), integrator keys, and sales payloads."""

import itertools
from datetime import date
from typing import Any

import httpx
from fastapi import FastAPI

from crm_api.core.clock import clock
from crm_api.models.customer import Customer
from tests.factories import Actors

_serial = itertools.count(1)


async def make_customer(
    app: FastAPI,
    *,
    owner_id: int,
    code: str | None = None,
    name: str | None = None,
    status: str = "active",
    external_id: str | None = None,
    deleted: bool = False,
) -> int:
    number = next(_serial)
    async with app.state.db.sessionmaker() as session, session.begin():
        customer = Customer(
            code=code or f"KH{number:08d}",
            name=name or f"测试客户{number}有限公司",
            owner_id=owner_id,
            status=status,
            external_id=external_id,
            deleted_at=clock.now() if deleted else None,
        )
        session.add(customer)
        await session.flush()
        return customer.id


async def integrator_key(client: httpx.AsyncClient, actors: Actors) -> tuple[int, dict[str, str]]:
    """An integrator API key issued by an admin through the API: its id and the headers that send it."""
    admin = await actors.make("admin")
    response = await client.post("/api/v1/api-keys", json={"name": "sales system", "role": "integrator"}, headers=admin.headers)
    assert response.status_code == 201, response.text
    issued = response.json()
    return issued["id"], {"X-API-Key": issued["secret"]}


def product(external_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "name": f"产品{external_id}",
        "model": "M-1",
        "batch": "B2026",
        "unit": "件",
        "price": "10.00",
    } | fields


def stock(external_id: str, product_external_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "product_external_id": product_external_id,
        "warehouse": "上海仓",
        "location": "A-01",
        "quantity": 5,
    } | fields


def line(product_external_id: str, quantity: str = "1", unit_price: str = "10.00", **fields: Any) -> dict[str, Any]:
    return {"product_external_id": product_external_id, "quantity": quantity, "unit": "件", "unit_price": unit_price} | fields


def order(
    external_id: str,
    customer_code: str,
    *,
    lines: list[dict[str, Any]] | None = None,
    status: int = 5,
    order_date: date = date(2026, 5, 1),
    **fields: Any,
) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "number": f"SO-{external_id}",
        "customer_code": customer_code,
        "order_date": order_date.isoformat(),
        "shipping_address": "上海市浦东新区世纪大道1号",
        "status": status,
        "lines": lines or [line("P1")],
    } | fields
