"""`crm backup` then `crm restore` into an empty database gives back every row."""

import asyncio

import pytest
from sqlalchemy import func, select, table
from sqlalchemy.ext.asyncio import create_async_engine

from crm_api.backup import BackupError, backup, restore
from crm_api.core.orm import Base
from tests.customers.factories import make_customer

ALEMBIC_VERSION = table("alembic_version")


async def _row_counts(url: str) -> dict[str, int]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return {
                each.name: int((await connection.execute(select(func.count()).select_from(each))).scalar_one())
                for each in [*Base.metadata.sorted_tables, ALEMBIC_VERSION]
            }
    finally:
        await engine.dispose()


async def test_a_backup_restores_into_an_empty_database_with_every_row(client, actors, settings, fresh_database, tmp_path):
    manager = await actors.make("account_manager", team="east")
    await make_customer(client, manager, name="上海华信科技有限公司")
    await make_customer(client, manager, name="北京明达机械有限公司")
    dump = tmp_path / "crm.backup"

    await asyncio.to_thread(backup, settings.database_url, dump)
    empty = await fresh_database()
    await asyncio.to_thread(restore, empty, dump)

    original, restored = await _row_counts(settings.database_url), await _row_counts(empty)
    assert restored == original
    assert restored["customers"] == 2 and restored["users"] >= 1 and restored["alembic_version"] == 1


async def test_restore_refuses_a_database_that_is_not_empty(settings, tmp_path):
    dump = tmp_path / "crm.backup"
    await asyncio.to_thread(backup, settings.database_url, dump)
    with pytest.raises(BackupError):
        await asyncio.to_thread(restore, settings.database_url, dump)
