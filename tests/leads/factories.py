"""Leads and lead rules through the API."""

import itertools
from typing import Any

import httpx
from fastapi import FastAPI

from crm_api.models.identity import Role, RolePermission
from tests.factories import Actor

API = "/api/v1/leads"
RULES = "/api/v1/lead-assignment-rules"


def lead_body(**overrides: Any) -> dict[str, Any]:
    return {
        "company": "杭州云帆科技有限公司",
        "contact_name": "陈静",
        "phone": "138 0013 8000",
        "email": "Chen.Jing@yunfan.example",
        "source": "website",
        "region": "zhejiang",
        "industry": "it",
    } | overrides


async def create_lead(client: httpx.AsyncClient, actor: Actor, **overrides: Any) -> dict[str, Any]:
    response = await client.post(API, json=lead_body(**overrides), headers=actor.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def create_assignment_rule(client: httpx.AsyncClient, admin: Actor, **body: Any) -> dict[str, Any]:
    response = await client.post(RULES, json={"name": "rule"} | body, headers=admin.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def custom_role(app: FastAPI, code: str, grants: dict[str, str]) -> None:
    """A custom role (permission -> scope), as an admin would define it."""
    async with app.state.db.sessionmaker() as session, session.begin():
        role = Role(code=code, name=code)
        session.add(role)
        await session.flush()
        session.add_all(RolePermission(role_id=role.id, permission=p, scope=s) for p, s in grants.items())


# The moves that bring a new lead to each status, made by its owner.
MOVES_TO = {
    "new": [],
    "working": [("activities", {"kind": "call"})],
    "qualified": [("qualify", None)],
    "converted": [("convert", None)],
    "disqualified": [("disqualify", {"reason": "No budget"})],
}
_serial = itertools.count(1)


async def lead_in(client: httpx.AsyncClient, owner: Actor, status: str) -> dict[str, Any]:
    """A lead of `owner` moved to `status`, with a phone and email no other lead has."""
    number = next(_serial)
    lead = await create_lead(client, owner, phone=f"1390000{number:04d}", email=f"lead{number}@x.example")
    for move, body in MOVES_TO[status]:
        response = await client.post(f"{API}/{lead['id']}/{move}", json=body, headers=owner.headers)
        assert response.status_code in (200, 201), response.text
    return (await client.get(f"{API}/{lead['id']}", headers=owner.headers)).json()
