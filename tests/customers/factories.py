"""Customers, contacts and interactions made through the API, as a user would."""

from itertools import count
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from crm_api.models.customer import Customer
from tests.factories import Actor, Actors, assert_problem

BASE = "/api/v1/customers"
# Every customer a test makes without naming it is a company of its own: the duplicate guard refuses a second one
# with the same name or phone.
_SERIAL = count(1)


def company(**fields: Any) -> dict[str, Any]:
    """A new customer's body: a distinct name and phone unless given."""
    n = next(_SERIAL)
    return {"name": f"上海华信{n}号科技有限公司", "region": "shanghai", "level": "major", "phone": f"021-6{n:07d}"} | fields


async def make_customer(client: httpx.AsyncClient, owner: Actor, **fields: Any) -> dict[str, Any]:
    body = company(**fields)
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
        "occurred_on": "2026-06-01",
        "location": "客户总部",
        "summary": "季度回访",
        "details": "讨论了下季度的采购计划",
    } | fields
    response = await client.post(f"{BASE}/{customer_id}/interactions", json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def record_of_new_customer(client: httpx.AsyncClient, owner: Actor, path: str) -> tuple[dict[str, Any], str]:
    """A new customer with one contact or interaction (`path`), and that record's URL."""
    make = {"contacts": make_contact, "interactions": make_interaction}[path]
    customer = await make_customer(client, owner)
    record = await make(client, owner, customer["id"])
    return record, f"{BASE}/{customer['id']}/{path}/{record['id']}"


async def audit_of(client: httpx.AsyncClient, admin: Actor, entity_type: str, entity_id: int) -> list[dict[str, Any]]:
    """Audit events of one record, oldest first."""
    response = await client.get(
        "/api/v1/audit-events", params={"entity_type": entity_type, "entity_id": str(entity_id)}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    return list(reversed(response.json()["items"]))


async def churn(app: FastAPI, customer_id: int) -> None:
    """What the churn domain does when a warning is confirmed."""
    async with app.state.db.sessionmaker() as session, session.begin():
        await session.execute(update(Customer).where(Customer.id == customer_id).values(status="churned"))


async def customer_names(client: httpx.AsyncClient, actor: Actor, **params: Any) -> list[str]:
    """Names on the first page of the customer list the actor sees."""
    response = await client.get(BASE, params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["items"]]


async def two_managers(actors: Actors) -> tuple[Actor, Actor]:
    """Two account managers of one team: each is outside the other's data scope."""
    return await actors.make("account_manager", team="east"), await actors.make("account_manager", team="east")


async def assert_guarded(
    client: httpx.AsyncClient, method: str, url: str, *, wrong_role: Actor, outsider: Actor, body: Any = None
) -> None:
    """Anonymous 401, a role lacking the permission 403, a caller outside the data scope 404."""
    assert_problem(await client.request(method, url, json=body), 401)
    assert_problem(await client.request(method, url, json=body, headers=wrong_role.headers), 403, "auth.missing_permission")
    assert_problem(await client.request(method, url, json=body, headers=outsider.headers), 404, "customer.not_found")


def csv_file(*rows: list[object], name: str = "customers.csv") -> dict[str, tuple[str, bytes, str]]:
    """A multipart `file` of CSV rows (the first is the header)."""
    import csv
    import io

    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return {"file": (name, buffer.getvalue().encode("utf-8-sig"), "text/csv")}


def xlsx_file(*rows: list[object], name: str = "customers.xlsx") -> dict[str, tuple[str, bytes, str]]:
    import io

    from openpyxl import Workbook

    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return {"file": (name, buffer.getvalue(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")}


async def import_file(client: httpx.AsyncClient, actor: Actor, files: dict[str, Any], **params: Any) -> httpx.Response:
    return await client.post(f"{BASE}/import", files=files, params=params, headers=actor.headers)


async def make_legacy_duplicate(app: FastAPI, owner: Actor, **fields: Any) -> dict[str, Any]:
    """A customer from before the duplicate guard sharing a name, phone or email with another: written straight to
    the database and marked as its migration marks such rows, as only old data can be."""
    from crm_api.core.phones import to_e164

    body = company(**fields)
    phone = body.get("phone")
    async with app.state.db.sessionmaker() as session, session.begin():
        customer = Customer(
            **body,
            phone_e164=to_e164(phone) if phone else None,
            code=f"OLD{next(_SERIAL):07d}",
            owner_id=owner.id,
            created_by_id=owner.id,
            legacy_duplicate=True,
        )
        session.add(customer)
        await session.flush()
        return {"id": customer.id, "name": customer.name}
