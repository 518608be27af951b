"""Queued imports are run by exactly one runner, whichever process it is in."""

import asyncio
import io

from sqlalchemy import func, select

from crm_api.auth.principal import principal_for_user
from crm_api.core.db import Database
from crm_api.imports import service
from crm_api.imports.jobs import ImportRunner
from crm_api.imports.policy import ImportEntity, ImportMode, ImportStatus
from crm_api.models import Customer, DataImport
from crm_api.models.platform import AuditEvent
from tests.concurrency import skip_unless_postgresql
from tests.imports.files import csv_bytes
from tests.platform.test_idempotency_crash import _until

FILES = 8
ROWS_EACH = 40


async def _queue(app, admin_id: int, files: int = FILES) -> None:
    """`files` imports queued (the inline limit is 0), none run: no request's worker is there to run them."""
    settings = app.state.settings
    async with app.state.db.sessionmaker() as session, session.begin():
        principal, _ = await principal_for_user(session, admin_id)
        for n in range(files):
            rows = [["name", "external_id"]] + [[f"队列客户{n}-{i}", f"Q-{n}-{i}"] for i in range(ROWS_EACH)]
            record, tally = await service.submit(
                session,
                settings,
                principal,
                entity=ImportEntity.CUSTOMERS,
                mode=ImportMode.VALID_ROWS_ONLY,
                dry_run=False,
                upload=service.Upload(io.BytesIO(csv_bytes(rows)), f"queue-{n}.csv"),
            )
            assert (record.status, tally) == (ImportStatus.QUEUED, None)


async def test_two_runners_in_two_processes_run_each_queued_import_once(app, settings, actors, tmp_path, monkeypatch):
    skip_unless_postgresql(settings)
    monkeypatch.setattr(app.state.settings, "document_dir", tmp_path)
    monkeypatch.setattr(app.state.settings, "import_inline_max_rows", 0)
    admin = await actors.make("admin")
    await _queue(app, admin.id)
    # Two engines, as two processes have: each runner claims on its own connections.
    databases = [Database(settings.database_url, pool_size=2) for _ in range(2)]
    try:
        ran = await asyncio.gather(*(service.run_queued(db.sessionmaker, app.state.settings) for db in databases))
    finally:
        for db in databases:
            await db.dispose()
    assert sum(ran) == FILES
    async with app.state.db.sessionmaker() as session:
        imports = (await session.scalars(select(DataImport).order_by(DataImport.id))).all()
        assert [(i.status, i.created, i.updated, i.failed) for i in imports] == [("succeeded", ROWS_EACH, 0, 0)] * FILES
        assert await session.scalar(select(func.count()).select_from(Customer)) == FILES * ROWS_EACH
        runs = select(func.count()).where(AuditEvent.entity_type == "import", AuditEvent.action == "customers")
        assert await session.scalar(runs) == FILES
    assert list(tmp_path.glob("imports/*")) == []  # each upload is removed once its import has run


async def test_the_scheduler_processs_runner_picks_up_what_a_stopped_worker_queued(app, actors, tmp_path, monkeypatch):
    monkeypatch.setattr(app.state.settings, "document_dir", tmp_path)
    monkeypatch.setattr(app.state.settings, "import_inline_max_rows", 0)
    monkeypatch.setattr(app.state.settings, "import_poll_seconds", 0.05)
    admin = await actors.make("admin")
    await _queue(app, admin.id, files=1)
    runner = ImportRunner(app.state.db, app.state.settings)
    runner.start()
    try:

        async def succeeded() -> bool:
            async with app.state.db.reader() as session:
                return await session.scalar(select(DataImport.status)) == ImportStatus.SUCCEEDED

        await _until(succeeded, 60, "the scheduler's runner to run the import")
    finally:
        await runner.stop(grace_seconds=30)


async def test_a_runner_with_nothing_queued_runs_nothing(app):
    assert await service.run_queued(app.state.db.sessionmaker, app.state.settings) == 0
