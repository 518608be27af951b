"""The headers of the contract, derived from what sends or honours them rather than listed per route.

`Idempotency-Key` on every write the IdempotencyMiddleware keeps (`idempotency.unkept_writes` are not);
`ETag` and 304 on every GET that takes the `ETag` dependency (its If-None-Match parameter shows it); `Location` on a 201
whose record has a GET at `{path}/{id}` (LocationMiddleware sends it); 413 wherever a body
is read; 422 on every operation, which refuses a query parameter it does not declare (`edge.DeclaredQueryRoute`).
"""

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI

from crm_api.core.http import path_template
from crm_api.core.idempotency import IDEMPOTENT_PATHS, KEY_PATTERN, WRITE_METHODS

IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Any unique string per intended change (a UUID): a retry with it gets the first response "
    "(`Idempotent-Replayed: true`) and no second effect, for 24 hours",
    "schema": {"type": "string", "pattern": KEY_PATTERN.pattern},
}
ETAG = {
    "description": "The record's version: send it as If-Match to update, or If-None-Match to read",
    "schema": {"type": "string"},
}
LOCATION = {"description": "The URL of the record created", "schema": {"type": "string"}}


def _status(operation: dict[str, Any], status: int, description: str | None = None) -> dict[str, Any]:
    response: dict[str, Any] = operation["responses"].setdefault(
        str(status), {"description": description or HTTPStatus(status).phrase}
    )
    return response


def _has_id(response: dict[str, Any], schemas: dict[str, Any]) -> bool:
    ref = response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref", "")
    return "id" in schemas.get(ref.rsplit("/", 1)[-1], {}).get("properties", {})


def _declare(schema: dict[str, Any], unkept: frozenset[tuple[str, str]]) -> None:
    paths: dict[str, dict[str, Any]] = schema.get("paths", {})
    components = schema.get("components", {}).get("schemas", {})
    record_urls = [path_template(path) for path in paths if "get" in paths[path]]
    for path, operations in paths.items():
        for method, operation in operations.items():
            parameters = operation.setdefault("parameters", [])
            _status(operation, 422)
            kept = method.upper() in WRITE_METHODS and path.startswith(IDEMPOTENT_PATHS) and (method.upper(), path) not in unkept
            if kept and IDEMPOTENCY_KEY not in parameters:
                parameters.append(IDEMPOTENCY_KEY)
                _status(operation, 409)  # the first request with the key is still running
                _status(operation, 422)  # a malformed key, or one used for another request
            if "requestBody" in operation:
                _status(operation, 413)
            if any(parameter.get("name") == "If-None-Match" for parameter in parameters):
                _status(operation, 200).setdefault("headers", {})["ETag"] = ETAG
                _status(operation, 304, "Not Modified: the record still has the ETag sent as If-None-Match")
            created = operation["responses"].get("201")
            template = f"{path}/{{id}}"
            if method == "post" and created and _has_id(created, components) and any(u.fullmatch(template) for u in record_urls):
                created.setdefault("headers", {})["Location"] = LOCATION
            elif created:  # an entry of a log or a part of its parent, with no GET of its own to locate
                whole = f"an entry of the list at `{path}`" if "get" in operations else f"a part of `{path.rsplit('/', 1)[0]}`"
                created["description"] = f"Created: {whole}, with no URL of its own (so no Location)"
            if not parameters:
                del operation["parameters"]


def header_contract(app: FastAPI, unkept: frozenset[tuple[str, str]]) -> None:
    """Adds the headers to the operations FastAPI documents; install before `problem_contract`, which documents
    the bodies of the error statuses added here."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        _declare(schema, unkept)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise the schema
