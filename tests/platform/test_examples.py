"""Every JSON body's example, sent as Swagger UI's "Try it out" sends it, succeeds on the demo data (`crm seed demo`)."""

import re
from typing import Any

import httpx
from sqlalchemy import text

from crm_api.bootstrap import seed_reference_data
from crm_api.core.security import create_access_token
from crm_api.demo import DEMO_USERS, seed_demo
from crm_api.main import create_app
from tests.conftest import make_settings, migrate

# Their bodies carry what only a run issues (a refresh token, the code of an authenticator app).
ISSUED_AT_RUN_TIME = {"/api/v1/auth/refresh", "/api/v1/auth/logout", "/api/v1/auth/totp/enable", "/api/v1/auth/totp/disable"}
# Moves that close their record go last, so the records stay open for the operations that need them so.
CLOSING = ("/win", "/lose", "/erase", "/merge", "/convert", "/disqualify")
# The table behind a collection in a path, where its name is not the segment's.
TABLES = {
    "dictionary": "dictionary_items",
    "articles": "kb_articles",
    "plan-items": "opportunity_plan_items",
    "webhooks": "webhook_subscriptions",
    "installments": "contract_installments",
    "approvals": "approval_requests",
    "custom-fields": "custom_field_definitions",
}
# Path parameters that are not ids: the value each operation is tried with.
PATH_VALUES = {"entity": "customer", "kind": "dingtalk"}


def sample(schema: dict[str, Any], components: dict[str, Any]) -> Any:
    """What Swagger UI fills the body with: the schema's first example, else one built from its parts' examples."""
    if "$ref" in schema:
        return sample(components[schema["$ref"].rsplit("/", 1)[-1]], components)
    if "examples" in schema:
        return schema["examples"][0]
    if "anyOf" in schema:
        return sample(next(option for option in schema["anyOf"] if option.get("type") != "null"), components)
    if schema.get("type") == "array":
        return [sample(schema["items"], components)]
    assert schema.get("type") == "object", f"no example for {schema}"
    return {name: sample(part, components) for name, part in schema["properties"].items()}


async def _path_candidates(session, path: str) -> list[dict[str, int]]:
    """Every demo record the path can name: `/customers/{customer_id}/contacts/{contact_id}` is each contact with its
    customer."""
    names = re.findall(r"\{(\w+)\}", path)
    if not names:
        return [{}]
    if names[-1] in PATH_VALUES:
        return [{names[-1]: PATH_VALUES[names[-1]]}]
    segments = path.split(f"/{{{names[-1]}}}")[0].split("/")
    collection = next(segment for segment in reversed(segments) if not segment.startswith("{"))
    table = TABLES.get(collection, collection.replace("-", "_"))
    # The record's id, else the column the path names it by (`/custom-fields/{entity}/{key}`).
    columns = ", ".join([*names[:-1], "id" if names[-1].endswith("_id") else names[-1]])
    rows = (await session.execute(text(f"SELECT {columns} FROM {table} ORDER BY id"))).all()
    return [dict(zip(names, row, strict=True)) for row in rows]


async def test_every_example_body_succeeds_on_the_demo_data(fresh_database):
    url = await fresh_database()
    await migrate(url)
    settings = make_settings(url)
    app = create_app(settings)
    try:
        async with app.state.db.sessionmaker() as session, session.begin():
            await seed_reference_data(session)
            await seed_demo(session)
        async with app.state.db.sessionmaker() as session:
            users = dict((await session.execute(text("SELECT username, id FROM users"))).all())
        callers = [
            {"Authorization": f"Bearer {create_access_token(settings, user_id=users[name])[0]}"} for name, *_ in DEMO_USERS
        ]
        schema = app.openapi()
        components = schema["components"]["schemas"]
        refused: dict[str, set[str]] = {}
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
            for path, operations in sorted(schema["paths"].items(), key=lambda item: item[0].endswith(CLOSING)):
                for method, operation in operations.items():
                    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
                    if body is None or path in ISSUED_AT_RUN_TIME:
                        continue
                    example = sample(body["schema"], components)
                    async with app.state.db.sessionmaker() as session:
                        candidates = await _path_candidates(session, path)
                    where = f"{method.upper()} {path}"
                    answers = refused.setdefault(where, set())
                    for ids in candidates:
                        for headers in callers:
                            response = await client.request(method, path.format(**ids), json=example, headers=headers)
                            if response.is_success:
                                del refused[where]
                                if "location" in response.headers:  # the record created is there to read
                                    located = await client.get(response.headers["location"], headers=headers)
                                    assert located.json()["id"] == response.json()["id"], located.text
                                break
                            problem = response.json()
                            answers.add(f"{response.status_code} {problem.get('code')} {problem.get('errors', '')}"[:300])
                        if where not in refused:
                            break
    finally:
        await app.state.db.dispose()
    assert not refused, "\n".join(f"{where}: {sorted(answers)}" for where, answers in refused.items())
