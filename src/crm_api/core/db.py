"""Engine, sessions and the per-request unit of work."""

import os
import signal
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from starlette.types import Scope

from crm_api.core.config import Settings


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


# asyncpg prepares every statement; after five runs PostgreSQL may switch to a generic plan that
# ignores the bound values. For `name ILIKE $1 … ORDER BY id DESC LIMIT 21` that plan walks the
# primary key backwards through the whole table instead of using the trigram indexes.
POSTGRESQL_SERVER_SETTINGS = {"plan_cache_mode": "force_custom_plan"}


class Database:
    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 20, pre_ping: bool = False) -> None:
        options: dict[str, Any] = {"echo": echo, "pool_pre_ping": pre_ping}
        if not url.startswith("sqlite"):
            options |= {"pool_size": pool_size, "max_overflow": 0}
        if url.startswith("postgresql+asyncpg"):
            options["connect_args"] = {"server_settings": POSTGRESQL_SERVER_SETTINGS}
        self.engine: AsyncEngine = create_async_engine(url, **options)
        self.dialect = self.engine.dialect.name
        if self.dialect == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
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

    @classmethod
    def from_settings(cls, settings: Settings) -> "Database":
        return cls(
            settings.database_url,
            echo=settings.database_echo,
            pool_size=settings.database_pool_size,
            pre_ping=settings.database_pool_pre_ping,
        )

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


# Requests that only read; the one write they make (an API key's last use) is a single statement.
READ_METHODS = frozenset({"GET", "HEAD"})


class SnapshotRoute(APIRoute):
    """A read that runs several statements (the customer 360, reports, a page and its tags).

    Its GET runs in one REPEATABLE READ, READ ONLY transaction, so every statement sees the same
    committed state; a router declares it once with `APIRouter(route_class=SnapshotRoute)`.
    """


def _sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    """Writes: one READ COMMITTED transaction. Reads: one snapshot when the route needs it, else autocommit.

    A single-statement read runs without BEGIN and COMMIT: those two round trips would triple a lookup by id.
    """
    database: Database = request.app.state.db
    if request.method not in READ_METHODS:
        return database.sessionmaker
    if isinstance(request.scope.get("route"), SnapshotRoute):
        return database.snapshot_reader
    return database.reader


# A transaction the idempotency middleware opened, holding the request's key: the request joins it, and the
# middleware commits it together with the response it stores, before sending that response.
JOINED_TRANSACTION = "crm.joined_transaction"


def after_commit(scope: Scope) -> None:
    """Tests only: a crash between a commit and its response, when CRM_TEST_CRASH_AFTER_COMMIT_PATH names the path."""
    if scope["app"].state.settings.test_crash_after_commit_path == scope["path"]:
        os.kill(os.getpid(), signal.SIGKILL)


async def _unit_of_work(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler returns, rolled back if it raises."""
    joined: AsyncSession | None = request.scope.get(JOINED_TRANSACTION)
    if joined is not None:
        try:
            yield joined
            await joined.flush()  # a constraint violation is still answered by the error handlers
        except Exception:
            await joined.rollback()
            raise
        return
    async with _sessionmaker(request)() as session, session.begin():
        yield session
    if request.method not in READ_METHODS:
        after_commit(request.scope)


# scope="function": commit before the response is sent, so a failed commit is an error response.
SessionDep = Annotated[AsyncSession, Depends(_unit_of_work, scope="function")]


def _database(request: Request) -> Database:
    return request.app.state.db


# For the rare write that must survive the request's rollback (a failed login is still counted).
DatabaseDep = Annotated[Database, Depends(_database)]
