"""Domain errors and their one translation into RFC 9457 problem+json."""

import logging
from collections.abc import Sequence
from enum import Enum
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from crm_api.core.context import request_id_var

log = logging.getLogger("crm_api.errors")

PROBLEM_JSON = "application/problem+json"
# Where a problem's `type` resolves: the service explains each code there.
PROBLEMS_URL = "/problems"


def problem_code(status: int, code: str, detail: str) -> str:
    """Declares a code answered with no DomainError behind it; the problem catalogue reads the declaration."""
    return code


REQUEST_TOO_LARGE = problem_code(
    413, "request.too_large", "The request body is larger than CRM_MAX_BODY_BYTES (or an upload's own limit)"
)
METHOD_NOT_ALLOWED = problem_code(405, "method_not_allowed", "The path exists but does not answer this method")
DUPLICATE = problem_code(409, "conflict.duplicate", "A value that must be unique (a username, a code…) is already taken")
REFERENCE = problem_code(409, "conflict.reference", "The record refers to a missing record, or others still refer to it")
CONSTRAINT = problem_code(409, "conflict.constraint", "The change violates a rule the database enforces")


class FieldError(BaseModel):
    field: str
    message: str
    type: str


class Problem(BaseModel):
    """The body of every error response (RFC 9457), sent as application/problem+json."""

    type: str = Field(
        description="A URI naming the problem's code; GET it for what the code means", examples=["/problems/customer.not_found"]
    )
    title: str = Field(examples=["Not found"])
    status: int = Field(examples=[404])
    detail: str | None = Field(default=None, examples=["Customer 42 not found"])
    code: str = Field(description="Stable machine code: branch on this", examples=["customer.not_found"])
    instance: str | None = Field(default=None, description="The request path", examples=["/api/v1/customers/42"])
    request_id: str | None = Field(default=None, description="Quote it when reporting a problem")
    errors: list[FieldError] | None = Field(default=None, description="Per-field errors, on 422 only")


class ValidationProblem(Problem):
    """A 422: the request is not valid; `errors` says which field and why."""

    errors: list[FieldError]


class StaleProblem(Problem):
    """A 412: `If-Match` named an older version; `current` is the record as it is now, to merge into and resend."""

    current: dict[str, Any] | None = Field(
        default=None, description="The record as it is now (its `version` is the If-Match to send with the merged change)"
    )


class DomainError(Exception):
    status: int = 400
    code: str = "error"
    title: str = "Bad request"

    def __init__(self, detail: str | None = None, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        if code is not None:
            self.code = code
        self.extra = extra
        self.headers: dict[str, str] = {}


class Unauthorized(DomainError):
    """No credentials, or credentials the service does not accept: sign in again or check the API key."""

    status, code, title = 401, "auth.unauthorized", "Not authenticated"

    def __init__(self, detail: str | None = None, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail, code=code, **extra)
        self.headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(DomainError):
    """The caller is known, but its role or its relation to the record does not allow this."""

    status, code, title = 403, "auth.forbidden", "Permission denied"


class NotFound(DomainError):
    """The record does not exist, or is outside the caller's data scope (the service does not say which)."""

    status, code, title = 404, "not_found", "Not found"

    def __init__(self, entity: str, entity_id: object | None = None) -> None:
        detail = f"{entity} {entity_id} not found" if entity_id is not None else f"{entity} not found"
        super().__init__(detail, code=f"{entity.lower().replace(' ', '_')}.not_found")


class Conflict(DomainError):
    """The record's current state does not allow the change: GET it again and see `current_status`."""

    status, code, title = 409, "conflict", "Conflict with the current state"


class PreconditionFailed(DomainError):
    """`If-Match` names another version than the record's: someone changed it since you read it."""

    status, code, title = 412, "precondition_failed", "The resource has changed"


class PayloadTooLarge(DomainError):
    """The uploaded file is larger than the limit for its kind."""

    status, code, title = 413, "upload.too_large", "The upload is too large"


class RateLimited(DomainError):
    """Too many requests: wait `Retry-After` seconds, then try again."""

    status, code, title = 429, "rate_limited", "Too many requests"

    def __init__(self, detail: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(detail, code=code)
        self.headers = {"Retry-After": str(max(1, retry_after))}


class InvalidInput(DomainError):
    """A 422 raised by a rule (dictionary value, unknown owner…) rather than by the schema."""

    status, code, title = 422, "validation_failed", "Invalid input"

    def __init__(self, field: str, message: str, *, code: str | None = None, type: str = "value_error") -> None:
        super().__init__(message, code=code)
        self.errors = [FieldError(field=field, message=message, type=type)]

    @classmethod
    def many(cls, errors: Sequence[FieldError], detail: str, *, code: str | None = None) -> "InvalidInput":
        error = cls(errors[0].field, detail, code=code)
        error.errors = list(errors)
        return error


class InvalidItems(InvalidInput):
    """A 422 about some items of a batch (an import's chunk): `refused` maps each refused item's index in the batch
    to its own refusal, so the batch can be written again without them."""

    def __init__(self, refused: dict[int, InvalidInput]) -> None:
        errors = [error for refusal in refused.values() for error in refusal.errors]
        super().__init__(errors[0].field, f"{len(refused)} of the items are invalid")
        self.errors = errors
        self.refused = refused


def problem_response(
    status: int,
    code: str,
    *,
    title: str | None = None,
    detail: str | None = None,
    request: Request | None = None,
    errors: Sequence[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    problem = Problem(
        type=f"{PROBLEMS_URL}/{code}",
        title=title or HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        code=code,
        instance=request.url.path if request is not None else None,
        request_id=request_id_var.get(),
        errors=list(errors) if errors is not None else None,
    )
    body = problem.model_dump(exclude_none=True) | (extra or {})
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def invalid_input_response(request: Request, errors: Sequence[FieldError]) -> JSONResponse:
    """The 422 of input refused before any rule ran (schema, unreadable body, NUL in the URL)."""
    return problem_response(
        422, "validation_failed", title="Invalid input", detail="The request is not valid", request=request, errors=errors
    )


def _field_name(loc: Sequence[str | int]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


# Constraint names (see NAMING_CONVENTION) that mean "this value is already taken".
def _integrity_problem(exc: IntegrityError) -> tuple[str, str, list[FieldError] | None]:
    message = str(exc.orig)
    lowered = message.lower()
    if "unique" in lowered or "duplicate key" in lowered:
        field = _unique_field(message)
        return (
            DUPLICATE,
            "A record with the same value already exists",
            ([FieldError(field=field, message="already in use", type="unique")] if field else None),
        )
    if "foreign key" in lowered:
        return REFERENCE, "The record refers to, or is referred to by, another record", None
    return CONSTRAINT, "The change violates a data rule", None


def _unique_field(message: str) -> str | None:
    # PostgreSQL: "... Key (username)=(x) already exists"; SQLite: "UNIQUE constraint failed: users.username"
    if "Key (" in message:
        return message.split("Key (", 1)[1].split(")", 1)[0]
    if "failed:" in message:
        return message.rsplit("failed:", 1)[1].strip().split(",")[0].split(".")[-1]
    return None


def internal_error_response() -> JSONResponse:
    """The 500 for a bug: says nothing about its cause; the log has the traceback and request id."""
    return problem_response(500, "internal_error", detail="An unexpected error occurred")


class DatabaseFailure(Enum):
    """Why the database could not serve a request now (a 503, not a bug)."""

    # The server is up but refused or cancelled this work (a statement or lock timeout, no free connection):
    # the connection stays good.
    BUSY = "busy"
    # The server is gone, restarting or not answering, or the connection broke: it must not be reused.
    DOWN = "down"


# PostgreSQL SQLSTATEs: class 08 is connection exceptions; 57P01-57P03 admin shutdown, crash shutdown,
# "cannot connect now" (starting up, shutting down, in recovery).
_CONNECTION_SQLSTATE_CLASS = "08"
_DOWN_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})
# Too many connections; a statement cancelled (statement_timeout).
_BUSY_SQLSTATES = frozenset({"53300", "57014"})
# SQLite primary result codes.
_SQLITE_BUSY_CODES = frozenset({5, 6})  # SQLITE_BUSY, SQLITE_LOCKED: the busy timeout ran out
_SQLITE_DOWN_CODES = frozenset({10, 13, 14})  # SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN


def _failure_of(error: BaseException) -> DatabaseFailure | None:
    if isinstance(error, PoolTimeout):
        return DatabaseFailure.BUSY
    # DisconnectionError: see Database's connect hook. TimeoutError: a connect or command timeout (asyncpg).
    if isinstance(error, DisconnectionError | TimeoutError | ConnectionError):
        return DatabaseFailure.DOWN
    sqlstate = getattr(error, "sqlstate", None)
    if isinstance(sqlstate, str):
        if sqlstate.startswith(_CONNECTION_SQLSTATE_CLASS) or sqlstate in _DOWN_SQLSTATES:
            return DatabaseFailure.DOWN
        return DatabaseFailure.BUSY if sqlstate in _BUSY_SQLSTATES else None
    sqlite_code = getattr(error, "sqlite_errorcode", None)
    if isinstance(sqlite_code, int):
        primary = sqlite_code & 0xFF
        if primary in _SQLITE_DOWN_CODES:
            return DatabaseFailure.DOWN
        return DatabaseFailure.BUSY if primary in _SQLITE_BUSY_CODES else None
    return None


def classify_database_failure(exc: BaseException) -> DatabaseFailure | None:
    """The one place that decides whether an error means "the database cannot serve this now".

    Decided by type and SQLSTATE (or SQLite result code) along the chain SQLAlchemy builds: its DBAPIError,
    the driver adapter's error, the driver's own.
    """
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return DatabaseFailure.DOWN  # the dialect saw the connection closed under it
    error: BaseException | None = exc
    for _ in range(4):  # the chain is at most three deep
        if error is None:
            break
        failure = _failure_of(error)
        if failure is not None:
            return failure
        error = getattr(error, "orig", None) or error.__cause__
    return None


# Every error that may mean the database is unavailable; classify_database_failure decides.
DATABASE_ERRORS: tuple[type[Exception], ...] = (DBAPIError, PoolTimeout, DisconnectionError, TimeoutError, ConnectionError)
DATABASE_RETRY_AFTER_SECONDS = 5


def database_unavailable_response(exc: BaseException, request: Request | None = None) -> JSONResponse | None:
    """The 503 for an error classified as the database being unavailable; None for any other error."""
    if classify_database_failure(exc) is None:
        return None
    log.warning("database unavailable: %r", getattr(exc, "orig", None) or exc)
    return problem_response(
        503,
        "database.unavailable",
        detail="The database cannot be reached; try again shortly",
        request=request,
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return problem_response(
            exc.status,
            exc.code,
            title=exc.title,
            detail=exc.detail,
            request=request,
            errors=getattr(exc, "errors", None),
            headers=exc.headers,
            extra=exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            FieldError(
                field=_field_name(err.get("loc", ())), message=err.get("msg", "invalid"), type=err.get("type", "value_error")
            )
            for err in exc.errors()
        ]
        return invalid_input_response(request, errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 304:  # If-None-Match named the record's ETag: no body, only its headers
            return Response(status_code=304, headers=exc.headers)
        if exc.status_code == 400:
            # The only 400s are bodies the framework could not parse (invalid UTF-8, a broken form): invalid input.
            return invalid_input_response(
                request, [FieldError(field="body", message="The body cannot be read", type="body_unreadable")]
            )
        code = {404: NotFound.code, 405: METHOD_NOT_ALLOWED, 413: REQUEST_TOO_LARGE}.get(exc.status_code)
        detail = exc.detail if isinstance(exc.detail, str) else None
        headers = getattr(exc, "headers", None)
        if code is None:
            return problem_response(exc.status_code, "http_error", detail=detail, request=request, headers=headers)
        return problem_response(exc.status_code, code, detail=detail, request=request, headers=headers)

    @app.exception_handler(StaleDataError)
    async def _stale(request: Request, exc: StaleDataError) -> JSONResponse:
        # The ORM's `UPDATE … WHERE version = :read` matched nothing: another request changed the record first.
        if "if-match" in request.headers:
            return problem_response(
                412, "precondition.etag_mismatch", detail="The record changed since you read it; GET it again", request=request
            )
        return problem_response(
            409,
            "conflict.concurrent_change",
            detail="Someone else changed the record at the same time; GET it again",
            request=request,
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        code, detail, errors = _integrity_problem(exc)
        return problem_response(409, code, detail=detail, request=request, errors=errors)

    async def _database_error(request: Request, exc: Exception) -> JSONResponse:
        unavailable = database_unavailable_response(exc, request)
        if unavailable is not None:
            return unavailable
        log.error("database error on %s %s", request.method, request.url.path, exc_info=exc)
        return internal_error_response()

    for database_error in DATABASE_ERRORS:
        app.add_exception_handler(database_error, _database_error)


def _problem_schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for model in (Problem, ValidationProblem, StaleProblem):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas |= schema.pop("$defs", {})
        schemas[model.__name__] = schema
    return schemas


def problem_contract(app: FastAPI) -> None:
    """Every 4xx/5xx of every operation is documented as it is sent: application/problem+json with
    the `Problem` schema (`ValidationProblem` for 422), in place of FastAPI's JSON `HTTPValidationError`."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for fastapi_default in ("HTTPValidationError", "ValidationError"):
                components.pop(fastapi_default, None)
            components |= _problem_schemas()
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    for status, response in operation.get("responses", {}).items():
                        if status.isdigit() and int(status) >= 400:
                            name = {"422": "ValidationProblem", "412": "StaleProblem"}.get(status, "Problem")
                            response["content"] = {PROBLEM_JSON: {"schema": {"$ref": f"#/components/schemas/{name}"}}}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise the schema
