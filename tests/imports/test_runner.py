"""Queued imports are run by exactly one runner, whichever process it is in."""

import asyncio
import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, update

from crm_api.auth.principal import principal_for_user
from crm_api.core.db import Database
from crm_api.imports import service
from crm_api.imports.jobs import ImportRunner
from crm_api.imports.policy import ImportEntity, ImportMode, ImportStatus
from crm_api.models import Customer, DataImport
from crm_api.models.imports import ImportRowError
from crm_api.models.platform import AuditEvent
from tests.concurrency import skip_unless_postgresql
from tests.imports.files import csv_bytes
from tests.platform.test_idempotency_crash import _until

FILES = 8
ROWS_EACH = 40


async def _queue(
    app, admin_id: int, files: int = FILES, rows_each: int = ROWS_EACH, mode: ImportMode = ImportMode.VALID_ROWS_ONLY
) -> None:
    """`files` imports queued (the inline limit is 0), none run: no request's worker is there to run them. Every
    tenth row of a long file (`rows_each` over 100) has no name: a row error."""
    settings = app.state.settings
    async with app.state.db.sessionmaker() as session, session.begin():
        principal, _ = await principal_for_user(session, admin_id)
        for n in range(files):
            names = [f"队列客户{n}-{i}" if rows_each <= 100 or i % 10 else "" for i in range(rows_each)]
            rows = [["name", "external_id"]] + [[name, f"Q-{n}-{i}"] for i, name in enumerate(names)]
            record, tally = await service.submit(
                session,
                settings,
                principal,
                entity=ImportEntity.CUSTOMERS,
                mode=mode,
                dry_run=False,
                upload=service.Upload(io.BytesIO(csv_bytes(rows)), f"queue-{n}.csv"),
            )
            assert (record.status, tally) == (ImportStatus.QUEUED, None)


async def _imports(app) -> list[DataImport]:
    async with app.state.db.reader() as session:
        return list((await session.scalars(select(DataImport).order_by(DataImport.id))).all())


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
    imports = await _imports(app)
    assert [(i.status, i.created, i.updated, i.failed) for i in imports] == [("succeeded", ROWS_EACH, 0, 0)] * FILES
    async with app.state.db.sessionmaker() as session:
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


@pytest.mark.parametrize("grace_seconds", [30, 0], ids=["stopped-between-chunks", "cancelled-mid-chunk"])
async def test_a_stopped_runner_hands_its_import_back_and_the_next_goes_on_writing_each_row_once(
    app, settings, actors, tmp_path, monkeypatch, grace_seconds
):
    if grace_seconds == 0:
        # A deploy that does not wait cancels the chunk's statement: PostgreSQL rolls it back with the connection;
        # SQLite cannot interrupt a statement its driver thread runs, so there a stop waits for the chunk boundary.
        skip_unless_postgresql(settings)
    monkeypatch.setattr(app.state.settings, "document_dir", tmp_path)
    monkeypatch.setattr(app.state.settings, "import_inline_max_rows", 0)
    monkeypatch.setattr(app.state.settings, "import_chunk_rows", 10)
    monkeypatch.setattr(app.state.settings, "import_poll_seconds", 0.05)
    rows = 2_000
    admin = await actors.make("admin")
    await _queue(app, admin.id, files=1, rows_each=rows)
    runner = ImportRunner(app.state.db, app.state.settings)
    runner.start()

    async def under_way() -> bool:
        return (await _imports(app))[0].rows_done > 0

    try:
        await _until(under_way, 60, "the runner to commit a chunk")
    finally:
        await runner.stop(grace_seconds)
    [handed_back] = await _imports(app)
    assert handed_back.status == ImportStatus.QUEUED
    assert 0 < handed_back.rows_done < rows
    assert handed_back.stored_path in {str(path) for path in tmp_path.glob("imports/*")}  # kept for the next runner

    assert await service.run_queued(app.state.db.sessionmaker, app.state.settings) == 1
    [done] = await _imports(app)
    nameless = rows // 10
    assert (done.status, done.rows_done, done.created, done.failed) == ("succeeded", rows, rows - nameless, nameless)
    async with app.state.db.reader() as session:
        assert await session.scalar(select(func.count()).select_from(Customer)) == rows - nameless
        reported = (await session.scalars(select(ImportRowError.row).order_by(ImportRowError.id))).all()
    assert reported == [i + 2 for i in range(0, rows, 10)]  # each nameless row once, in file order
    assert list(tmp_path.glob("imports/*")) == []


async def test_an_import_whose_process_died_is_taken_over_once_its_lease_ends(app, actors, tmp_path, monkeypatch):
    monkeypatch.setattr(app.state.settings, "document_dir", tmp_path)
    monkeypatch.setattr(app.state.settings, "import_inline_max_rows", 0)
    admin = await actors.make("admin")
    await _queue(app, admin.id, files=2, mode=ImportMode.ALL_OR_NOTHING)
    abandoned, running = await _imports(app)
    async with app.state.db.sessionmaker() as session, session.begin():
        # Claimed by a process that died long ago, and by one still making progress.
        stopped = {"status": ImportStatus.RUNNING, "rows_done": 10}
        await session.execute(
            update(DataImport).where(DataImport.id == abandoned.id).values(**stopped, updated_at=datetime(2000, 1, 1, tzinfo=UTC))
        )
        await session.execute(update(DataImport).where(DataImport.id == running.id).values(status=ImportStatus.RUNNING))

    assert await service.run_queued(app.state.db.sessionmaker, app.state.settings) == 1
    taken_over, untouched = await _imports(app)
    assert (taken_over.status, taken_over.rows_done, taken_over.created) == ("succeeded", ROWS_EACH, ROWS_EACH)
    assert untouched.status == ImportStatus.RUNNING
    async with app.state.db.reader() as session:
        assert await session.scalar(select(func.count()).select_from(Customer)) == ROWS_EACH
