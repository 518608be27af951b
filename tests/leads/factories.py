"""Leads and lead rules through the API."""

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
