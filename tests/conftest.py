"""Fresh database per test session (SQLite by default, PostgreSQL with CRM_TEST_DATABASE_URL), clean before each test."""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest
from alembic import command
from fastapi import FastAPI
from sqlalchemy import delete, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.bootstrap import seed_reference_data
from crm_api.cli import alembic_config
from crm_api.core.clock import clock
from crm_api.core.codes import SERIES, series_sequence
from crm_api.core.config import Settings
from crm_api.main import create_app
from crm_api.models import Base
from tests.factories import Actors

TEST_SECRET = "test-secret-key-that-is-long-enough-for-hs256"


def _postgres_base_url() -> str | None:
    url = os.environ.get("CRM_TEST_DATABASE_URL")
    return url if url and url.startswith("postgresql") else None


async def _create_postgres_database(base_url: str) -> tuple[str, Callable[[], object]]:
    url = make_url(base_url)
    name = f"crm_test_{uuid.uuid4().hex[:12]}"
    dsn = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()

    async def drop() -> None:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()

    return url.set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(scope="session")
async def fresh_database(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Callable[[], object]]:
    """A factory of empty databases of the lane's kind, dropped at the end of the session."""
    drops: list[Callable[[], object]] = []

    async def make() -> str:
        base = _postgres_base_url()
        if base is None:
            return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'crm.db'}"
        url, drop = await _create_postgres_database(base)
        drops.append(drop)
        return url

    yield make
    for drop in drops:
        await drop()  # type: ignore[misc]


def make_settings(database_url: str, **overrides: object) -> Settings:
    return Settings(_env_file=None, env="test", database_url=database_url, secret_key=TEST_SECRET, **overrides)  # type: ignore[arg-type]


async def migrate(database_url: str, revision: str = "head") -> None:
    # Alembic's env runs its own event loop, so it gets a thread of its own.
    await asyncio.to_thread(command.upgrade, alembic_config(database_url), revision)


@pytest.fixture(scope="session")
async def settings(fresh_database: Callable[[], object]) -> Settings:
    url = await fresh_database()  # type: ignore[misc]
    await migrate(url)
    return make_settings(url)


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    yield application
    await application.state.pubsub.stop()
    await application.state.db.dispose()


async def _empty_all_tables(session: AsyncSession) -> None:
    # DELETE, children first: on a few rows it is far cheaper than TRUNCATE on PostgreSQL.
    for table in reversed(Base.metadata.sorted_tables):
        await session.execute(delete(table))
    if session.get_bind().dialect.name == "postgresql":  # codes start at 1 in every test, as on SQLite
        for series in SERIES:
            await session.execute(text(f"ALTER SEQUENCE {series_sequence(series).name} RESTART"))


@pytest.fixture(autouse=True)
async def clean_database(app: FastAPI) -> AsyncIterator[None]:
    async with app.state.db.sessionmaker() as session, session.begin():
        await _empty_all_tables(session)
        await seed_reference_data(session)
    yield
    clock.unfreeze()


@pytest.fixture
async def session(app: FastAPI) -> AsyncIterator[AsyncSession]:
    """A session for service-level tests; committed at the end unless the test raised."""
    async with app.state.db.sessionmaker() as db_session, db_session.begin():
        yield db_session


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
def actors(app: FastAPI) -> Actors:
    return Actors(app)


@pytest.fixture
def frozen_clock() -> datetime:
    """Time stands still at a known instant until the test moves it with clock.advance()."""
    moment = datetime(2026, 6, 15, 2, 0, tzinfo=UTC)
    clock.freeze(moment)
    return moment


def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]
