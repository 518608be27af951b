"""Engine, sessions and the per-request unit of work."""

import asyncio
import hashlib
import os
import signal
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from dataclasses import dataclass, replace
from functools import cache, cached_property
from typing import Annotated, Any, ClassVar, TypeVar

import pydantic_core
from fastapi import Depends, Request, Response
from fastapi.dependencies.models import Dependant
from sqlalchemy import Executable, Insert, Label, Result, Table, bindparam, event, insert, inspect, text
from sqlalchemy.engine import Dialect, ExceptionContext
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from starlette.types import Scope

from crm_api.core.config import Settings
from crm_api.core.edge import DeclaredQueryRoute
from crm_api.core.errors import DatabaseFailure, classify_database_failure
from crm_api.core.query import Given
from crm_api.core.responses import dependants, raises

# SQLite's lock wait when no timeouts are given (a Database built outside the settings, in tests).
DEFAULT_SQLITE_BUSY_TIMEOUT_MS = 10_000
# Connections of the jobs' engine: the scheduler's runs at one time, and one run by hand.
JOB_POOL_SIZE = 4


@dataclass(frozen=True)
class Timeouts:
    """Bounds on a database that stops answering (the CRM_DATABASE_*_TIMEOUT_* settings)."""

    connect_seconds: float
    pool_seconds: float
    command_seconds: float
    statement_ms: int

    @classmethod
    def from_settings(cls, settings: Settings) -> "Timeouts":
        return cls(
            connect_seconds=settings.database_connect_timeout_seconds,
            pool_seconds=settings.database_pool_timeout_seconds,
            command_seconds=settings.database_command_timeout_seconds,
            statement_ms=settings.database_statement_timeout_ms,
        )

    @classmethod
    def for_jobs(cls, settings: Settings) -> "Timeouts":
        """A job's: its statements may run CRM_JOB_STATEMENT_TIMEOUT_SECONDS, the client waiting a little longer so
        the server is the one to cancel."""
        job_seconds = settings.job_statement_timeout_seconds
        return replace(cls.from_settings(settings), command_seconds=job_seconds + 5, statement_ms=round(job_seconds * 1000))


def _sqlite_pragmas(busy_timeout_ms: int) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms:d}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return on_connect


def _connect(dialect: Dialect, _record: Any, cargs: Any, cparams: Any) -> Any:
    # The driver raises socket errors and its connect timeout unwrapped (refused, unknown host, several addresses
    # all failing): while connecting, each means the server cannot be reached.
    try:
        return dialect.connect(*cargs, **cparams)
    except OSError as exc:
        raise DisconnectionError(f"cannot connect to the database: {exc!r}") from exc


def _invalidate_when_down(context: ExceptionContext) -> None:
    # The dialect only recognises a closed socket; after a shutdown SQLSTATE or a command timeout the connection
    # is as unusable, so it is closed rather than returned to the pool, and the pool's older connections, likely
    # dropped by the same restart, are replaced when next checked out.
    if classify_database_failure(context.original_exception) is DatabaseFailure.DOWN:
        context.is_disconnect = True


# asyncpg prepares every statement; after five runs PostgreSQL may switch to a generic plan that
# ignores the bound values. For `name ILIKE $1 … ORDER BY id DESC LIMIT 21` that plan walks the
# primary key backwards through the whole table instead of using the trigram indexes.
POSTGRESQL_SERVER_SETTINGS = {"plan_cache_mode": "force_custom_plan"}


def _json_text(value: Any) -> str:
    return pydantic_core.to_json(value).decode()


class Database:
    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        pool_size: int = 20,
        pre_ping: bool = False,
        timeouts: Timeouts | None = None,
    ) -> None:
        # JSON columns are written by pydantic-core's encoder: the audit trail and the outbox write one document per
        # change, and the standard library's took a tenth of an import's statements' time. They are read by its
        # parser too: a sync's snapshot reads a custom-field document per customer and contact.
        options: dict[str, Any] = {
            "echo": echo,
            "pool_pre_ping": pre_ping,
            "json_serializer": _json_text,
            "json_deserializer": pydantic_core.from_json,
        }
        if not url.startswith("sqlite"):
            options |= {"pool_size": pool_size, "max_overflow": 0}
            if timeouts is not None:
                options["pool_timeout"] = timeouts.pool_seconds
        if url.startswith("postgresql+asyncpg"):
            server_settings = dict(POSTGRESQL_SERVER_SETTINGS)
            connect_args: dict[str, Any] = {"server_settings": server_settings}
            if timeouts is not None:
                server_settings["statement_timeout"] = str(timeouts.statement_ms)
                connect_args |= {"timeout": timeouts.connect_seconds, "command_timeout": timeouts.command_seconds}
            options["connect_args"] = connect_args
        self.engine: AsyncEngine = create_async_engine(url, **options)
        self.dialect = self.engine.dialect.name
        event.listen(self.engine.sync_engine, "do_connect", _connect)
        event.listen(self.engine.sync_engine, "handle_error", _invalidate_when_down)
        if self.dialect == "sqlite":
            busy_timeout_ms = round(timeouts.command_seconds * 1000) if timeouts else DEFAULT_SQLITE_BUSY_TIMEOUT_MS
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas(busy_timeout_ms))
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self.reader = async_sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False, autoflush=False
        )
        # SQLite's deferred transaction already reads one snapshot (WAL) and is the default there.
        snapshot = (
            self.engine.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            if self.dialect == "postgresql"
            else self.engine
        )
        self.snapshot_reader = async_sessionmaker(snapshot, expire_on_commit=False, autoflush=False)
        self._abandoned_pings: set[asyncio.Task[None]] = set()
        # Where scheduled jobs run: this database, unless `from_settings` gave them an engine with their own timeouts.
        self.jobs: Database = self

    @classmethod
    def from_settings(cls, settings: Settings) -> "Database":
        database = cls(
            settings.database_url,
            echo=settings.database_echo,
            pool_size=settings.database_pool_size,
            pre_ping=settings.database_pool_pre_ping,
            timeouts=Timeouts.from_settings(settings),
        )
        # The scheduled jobs' engine: a request's timeouts would cancel a churn scan over a million customers.
        jobs = cls(
            settings.database_url, echo=settings.database_echo, pool_size=JOB_POOL_SIZE, timeouts=Timeouts.for_jobs(settings)
        )
        database.jobs = jobs
        return database

    async def _select_one(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def ping(self, within_seconds: float) -> None:
        """SELECT 1, or TimeoutError after `within_seconds`.

        Answers on time even when the database hangs: the abandoned check is cancelled but not waited for,
        since closing its connection to a hung server may itself take seconds.
        """
        check = asyncio.ensure_future(self._select_one())
        try:
            await asyncio.wait_for(asyncio.shield(check), within_seconds)
        except TimeoutError:
            check.cancel()
            self._abandoned_pings.add(check)  # a reference until it ends, and its outcome read
            check.add_done_callback(self._forget_ping)
            raise

    def _forget_ping(self, check: "asyncio.Task[None]") -> None:
        self._abandoned_pings.discard(check)
        if not check.cancelled():
            check.exception()

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.jobs is not self:
            await self.jobs.dispose()


F = TypeVar("F", bound=Callable[..., Any])

# Requests that only read; the one write they make (an API key's last use) is a single statement.
READ_METHODS = frozenset({"GET", "HEAD"})


async def read_rows(session: AsyncSession, statement: Executable, parameters: Mapping[str, Any] | None = None) -> Result[Any]:
    """The rows of a statement selecting columns (each labelled with its name), run on the session's connection:
    plain rows, without the ORM's loading of a result, which cost a lookup by id an eighth of its instructions.
    What the session holds unflushed is flushed first, as its own `execute` would."""
    await session.flush()
    connection = await session.connection()
    return await connection.execute(statement, parameters)


def record_columns(model: type[Any]) -> tuple[Label[Any], ...]:
    """Every mapped column of the model, the `*_name` ones (core.references) among them, each labelled with its
    attribute's name: a select of them read by `records` gives what the model's representation validates from."""
    return tuple(attribute.expression.label(attribute.key) for attribute in inspect(model).column_attrs)


def records(result: Result[Any]) -> list[dict[str, Any]]:
    """The rows of a `read_rows` result as dicts of column name → value."""
    names = tuple(result.keys())
    return [dict(zip(names, row, strict=True)) for row in result]


async def one_record(session: AsyncSession, statement: Executable, parameters: Mapping[str, Any]) -> dict[str, Any] | None:
    """The first row of a statement selecting columns (`read_rows`) as a record; None when it finds none."""
    found = records(await read_rows(session, statement, parameters))
    return found[0] if found else None


def advisory_key(name: str) -> int:
    """A stable signed 64-bit PostgreSQL advisory lock key for what `name` names (a job, a field)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@dataclass(frozen=True)
class BoundInsert:
    """A table's INSERT of one row of every column but its key, each value bound by name (`prefix` and the column):
    built once, so a write costs no statement building, and its names stay apart from those of the statements it is
    written with (`write_together`). Every value is given: a column default is not applied to an INSERT carrying
    CTEs."""

    table: Table
    prefix: str

    @cached_property
    def statement(self) -> Insert:
        return insert(self.table).values(
            {
                column.key: bindparam(self.prefix + column.key, type_=column.type)
                for column in self.table.c
                if not column.primary_key
            }
        )

    def values(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return {self.prefix + name: value for name, value in row.items()}

    def write(self, row: Mapping[str, Any]) -> "Write":
        """The INSERT of `row`, to be written with others (`write_together`)."""
        return self.statement, self.values(row)


# An INSERT that returns nothing, built once, and its parameters: written with others in one round trip.
Write = tuple[Insert, Mapping[str, Any]]


@cache
def _together(statements: tuple[Insert, ...]) -> Insert:
    *earlier, last = statements
    return last.add_cte(*(statement.cte(f"written_{n}") for n, statement in enumerate(earlier)))


async def write_together(session: AsyncSession, statements: tuple[Insert, ...], parameters: Mapping[str, Any]) -> None:
    """INSERTs that return nothing, each built once with its values bound by name (`parameters` holds them all): on
    PostgreSQL one statement, each but the last a data-modifying CTE of the last (one round trip, not one each, and
    built once per set of statements, as a statement built per call costs its cache key every time); elsewhere one
    after another (SQLite's WITH holds no INSERT)."""
    if len(statements) > 1 and session.get_bind().dialect.name == "postgresql":
        await session.execute(_together(statements), parameters)
        return
    for statement in statements:
        await session.execute(statement, parameters)


# Where a request's unit of work keeps its session for the `SessionDep` parameters of the route and its dependencies.
REQUEST_SESSION = "crm.session"


def request_session(request: Request) -> AsyncSession:
    """The session of the request's unit of work, for a dependency that reads it itself (`reads_request_session`)."""
    session: AsyncSession = request.scope[REQUEST_SESSION]
    return session


@raises("database.unavailable")
async def _request_session(request: Request) -> AsyncSession:
    return request_session(request)


SessionDep = Annotated[AsyncSession, Depends(_request_session)]

# The dependencies that read the request's session: a route depending on one opens a unit of work.
_SESSION_READERS: set[Callable[..., Any]] = {_request_session}


def reads_request_session(dependency: F) -> F:
    """Declares a dependency that calls `request_session` rather than taking a `SessionDep` parameter (one
    dependency fewer for FastAPI to solve on every request that resolves it)."""
    _SESSION_READERS.add(dependency)
    return dependency


def _uses_session(dependant: Dependant) -> bool:
    return any(each.call in _SESSION_READERS for each in dependants(dependant))


class UnitOfWorkRoute(DeclaredQueryRoute):
    """A route whose request is one transaction: committed once the handler has built the response and before it is
    sent (so a failed commit is an error answer), rolled back if the handler raises. Opened here rather than by a
    generator dependency, which cost a tenth of a lookup by id; a route taking no `SessionDep` opens none."""

    # Whether its GET reads in one snapshot (SnapshotRoute) rather than in autocommit.
    snapshot: ClassVar[bool] = False
    # The session is in the request once the unit of work has opened it: passed in, not solved as a dependency.
    given: ClassVar[Mapping[Callable[..., Any], Given]] = {_request_session: request_session}

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if not _uses_session(self.dependant):
            return handler
        snapshot = self.snapshot

        async def in_unit_of_work(request: Request) -> Response:
            joined: AsyncSession | None = request.scope.get(JOINED_TRANSACTION)
            if joined is not None:
                request.scope[REQUEST_SESSION] = joined
                try:
                    response = await handler(request)
                    await joined.flush()  # a constraint violation is still answered by the error handlers
                except Exception:
                    await joined.rollback()
                    raise
                return response
            database: Database = request.app.state.db
            reads = request.method in READ_METHODS
            if reads and not snapshot:
                # A single-statement read runs in autocommit: BEGIN and COMMIT would triple a lookup by id's round
                # trips, and a transaction begun and committed around it in the session would be the ORM's
                # bookkeeping alone, a twentieth of its instructions.
                async with database.reader() as session:
                    request.scope[REQUEST_SESSION] = session
                    response = await handler(request)
                    if session.new or session.dirty or session.deleted:
                        await session.flush()  # what the read added, as a commit would have
                return response
            # Writes: one READ COMMITTED transaction; a snapshot read, one REPEATABLE READ, READ ONLY one.
            maker = database.snapshot_reader if reads else database.sessionmaker
            async with maker() as session, session.begin():
                request.scope[REQUEST_SESSION] = session
                response = await handler(request)
            if not reads:
                after_commit(request.scope)
            return response

        return in_unit_of_work


class SnapshotRoute(UnitOfWorkRoute):
    """A read that runs several statements (the customer 360, reports, a contract with its approval and sums).

    Its GET runs in one REPEATABLE READ, READ ONLY transaction, so every statement sees the same
    committed state; a router declares it once with `DomainRouter(route_class=SnapshotRoute)`.
    """

    snapshot = True


# A transaction the idempotency middleware opened, holding the request's key: the request joins it, and the
# middleware commits it together with the response it stores, before sending that response.
JOINED_TRANSACTION = "crm.joined_transaction"


def after_commit(scope: Scope) -> None:
    """Tests only: a crash between a commit and its response, when CRM_TEST_CRASH_AFTER_COMMIT_PATH names the path."""
    if scope["app"].state.settings.test_crash_after_commit_path == scope["path"]:
        os.kill(os.getpid(), signal.SIGKILL)


@raises("database.unavailable")
def request_database(request: Request) -> Database:
    database: Database = request.app.state.db
    return database


@raises("database.unavailable")
async def _streamed_snapshot(request: Request) -> AsyncIterator[AsyncSession]:
    """A read-only snapshot that stays open until the response has been sent, so a file's rows are read while it
    streams, in the snapshot its header and totals were read in; no connection is taken unless a statement runs."""
    database: Database = request.app.state.db
    async with database.snapshot_reader() as session, session.begin():
        yield session


# scope="request": closed after the response's last byte (or the client leaving), not before its first.
StreamedSnapshotDep = Annotated[AsyncSession, Depends(_streamed_snapshot, scope="request")]


# For the rare write that must survive the request's rollback (a failed login is still counted).
DatabaseDep = Annotated[Database, Depends(request_database)]
