import asyncio

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from crm_api.cli import alembic_config
from crm_api.core.orm import schema_filter
from crm_api.custom_fields.policy import CustomFieldEntity
from crm_api.custom_fields.repository import build_field_index
from crm_api.models import Base
from tests.conftest import _postgres_base_url, migrate


async def _differences(url: str) -> list:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(
                        sync, opts={"compare_type": True, "include_object": schema_filter(sync.dialect.name)}
                    ),
                    Base.metadata,
                )
            )
    finally:
        await engine.dispose()


async def _tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


async def test_migrations_and_models_agree(fresh_database):
    url = await fresh_database()
    await migrate(url)
    assert await _differences(url) == []


@pytest.mark.skipif(_postgres_base_url() is None, reason="custom fields' indexes are built on PostgreSQL only")
async def test_a_custom_fields_index_is_no_difference_to_the_migrations(fresh_database):
    url = await fresh_database()
    await migrate(url)
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await build_field_index(autocommit, CustomFieldEntity.CUSTOMER, "sales_area")
    finally:
        await engine.dispose()
    assert await _differences(url) == []


async def test_migrations_downgrade_to_base_and_upgrade_again(fresh_database):
    url = await fresh_database()
    await migrate(url)
    await asyncio.to_thread(command.downgrade, alembic_config(url), "base")
    assert await _tables(url) <= {"alembic_version"}
    await migrate(url)
    assert set(Base.metadata.tables) <= await _tables(url)
