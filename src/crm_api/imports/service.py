"""Imports: an upload stored, checked and written in the request when it is small, queued for a runner when large.

Either way the rows go through `pipeline` in chunks and the outcome is an `imports` row with its row errors. An
import that may not write everything it read (all_or_nothing with an invalid row, or a dry run) writes its rows in one
transaction that is rolled back at the end; a valid_rows_only import in the background commits chunk by chunk, so
its progress shows and a long file holds no lock for long.
"""

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import IO

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_api.auth.principal import principal_for_user
from crm_api.core import audit
from crm_api.core.clock import clock
from crm_api.core.config import Settings
from crm_api.core.errors import DomainError, Forbidden, PayloadTooLarge
from crm_api.core.permissions import Principal
from crm_api.custom_fields import service as custom_fields
from crm_api.dictionary.service import values_by_label
from crm_api.imports.entities import ENTITIES, EntityImport
from crm_api.imports.pipeline import (
    Chunk,
    CustomFieldHeader,
    RowError,
    RowReader,
    RowWriter,
    Tally,
    no_custom_field,
    storable,
)
from crm_api.imports.policy import ImportEntity, ImportMode, ImportStatus
from crm_api.imports.reader import FileFormat, count_rows, file_format, too_many_rows
from crm_api.imports.repository import ImportRepository
from crm_api.models.imports import DataImport

log = logging.getLogger("crm_api.imports")

Sessions = async_sessionmaker[AsyncSession]
PROCESS_STARTED_AT = clock.now()
COPY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_rows: int
    chunk_rows: int
    max_errors: int

    @classmethod
    def of(cls, settings: Settings) -> "Limits":
        return cls(
            max_bytes=settings.import_max_bytes,
            max_rows=settings.import_max_rows,
            chunk_rows=settings.import_chunk_rows,
            max_errors=settings.import_max_reported_errors,
        )


@dataclass(frozen=True)
class Run:
    """One import's run: whose, of which entity, from which stored file, how."""

    spec: EntityImport
    actor: Principal
    path: Path
    file_format: FileFormat
    limits: Limits
    mode: ImportMode
    dry_run: bool
    # Set when the runner is asked to stop: the run ends at the next chunk boundary and its import waits again.
    stopping: asyncio.Event | None = None

    def keeps_writes(self, tally: Tally) -> bool:
        return not self.dry_run and not self.fails(tally)

    def fails(self, tally: Tally) -> bool:
        return self.mode == ImportMode.ALL_OR_NOTHING and tally.failed > 0


class RunnerStopping(Exception):
    """The runner was asked to stop between two chunks: nothing is half-written, the import is handed back."""


@dataclass(frozen=True)
class Upload:
    file: IO[bytes]
    filename: str


def ensure_can_import(actor: Principal, spec: EntityImport) -> None:
    actor.require(spec.permission)
    if actor.user_id is None:
        raise Forbidden("An import is a person's: an API key cannot start one", code="import.person_required")


def _store(upload: Upload, directory: Path, max_bytes: int) -> Path:
    """The upload copied to `directory` in chunks (never whole in memory); 413 past `max_bytes`."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{uuid.uuid4().hex}{Path(upload.filename).suffix.lower()}"
    written = 0
    with path.open("wb") as target:
        while chunk := upload.file.read(COPY_BYTES):
            written += len(chunk)
            if written > max_bytes:
                target.close()
                path.unlink()
                raise PayloadTooLarge(f"The file is larger than {max_bytes // (1024 * 1024)} MB")
            target.write(chunk)
    return path


def _checked_header(spec: EntityImport, path: Path, fmt: FileFormat, limits: Limits, custom_field_key: CustomFieldHeader) -> None:
    RowReader(spec, path, fmt, labels={}, max_rows=limits.max_rows, custom_field_key=custom_field_key).close()


async def _custom_field_key(session: AsyncSession, spec: EntityImport) -> CustomFieldHeader:
    """What names the entity's custom fields in a file's header."""
    if spec.custom_fields is None:
        return no_custom_field
    return (await custom_fields.rules_for(session, spec.custom_fields)).key_for_header


async def _remove(path: Path) -> None:
    await asyncio.to_thread(path.unlink, missing_ok=True)


def storage_dir(settings: Settings) -> Path:
    return settings.document_dir / "imports"


async def submit(
    session: AsyncSession,
    settings: Settings,
    actor: Principal,
    *,
    entity: ImportEntity,
    mode: ImportMode,
    dry_run: bool,
    upload: Upload,
    limits: Limits | None = None,
    inline_max_rows: int | None = None,
) -> tuple[DataImport, Tally | None]:
    """The import of the upload, and its tally when it ran now: it does when the file has at most `inline_max_rows`
    rows (CRM_IMPORT_INLINE_MAX_ROWS), else it is queued for a runner.

    A file whose header names an unknown column, or lacks a required one, is refused (422) before anything runs."""
    spec = ENTITIES[entity]
    ensure_can_import(actor, spec)
    fmt = file_format(upload.filename, spec.noun)
    limits = limits or Limits.of(settings)
    inline_max_rows = settings.import_inline_max_rows if inline_max_rows is None else inline_max_rows
    path = await asyncio.to_thread(_store, upload, storage_dir(settings), limits.max_bytes)
    try:
        custom_field_key = await _custom_field_key(session, spec)
        await asyncio.to_thread(_checked_header, spec, path, fmt, limits, custom_field_key)
        rows = await asyncio.to_thread(count_rows, path, fmt, spec.noun, max_rows=limits.max_rows, up_to=inline_max_rows)
        if rows > limits.max_rows:
            raise too_many_rows(spec.noun, limits.max_rows)
        inline = rows <= inline_max_rows
        record = DataImport(
            entity=entity,
            mode=mode,
            dry_run=dry_run,
            filename=storable(upload.filename[:255]),
            status=ImportStatus.RUNNING if inline else ImportStatus.QUEUED,
            stored_path=None if inline else str(path),
            rows_total=rows if inline else None,
            created_by_id=actor.user_id,
            started_at=clock.now() if inline else None,
        )
        session.add(record)
        await session.flush()
        import_id, tally = record.id, None
        if inline:
            run = Run(spec, actor, path, fmt, limits, mode, dry_run)
            tally = await run_in_session(session, run)
            await _finish(session, run, import_id, tally)
    except BaseException:
        await _remove(path)
        raise
    if inline:
        await _remove(path)
    finished = await session.get(DataImport, import_id, populate_existing=True)  # as _finish left it
    assert finished is not None  # just written
    return finished, tally


async def _reader(session: AsyncSession, run: Run) -> RowReader:
    labels = await values_by_label(session, run.spec.dictionary.values())
    reader = partial(
        RowReader,
        labels=labels,
        max_rows=run.limits.max_rows,
        custom_field_key=await _custom_field_key(session, run.spec),
    )
    return await asyncio.to_thread(reader, run.spec, run.path, run.file_format)


async def _chunks(reader: RowReader, run: Run) -> AsyncIterator[Chunk]:
    """The file's chunks, each parsed and checked in a worker thread while the one before is written, so the reading
    hides behind the writes' round trips. The file is closed however the loop ends, once the thread is done with it.
    A stopping runner stops here, between chunks, rather than by cancelling a statement in flight."""
    reading = asyncio.ensure_future(asyncio.to_thread(reader.next_chunk, run.limits.chunk_rows))
    try:
        # Shielded: a cancelled run must not lose track of the thread, which goes on reading until its chunk ends.
        while (chunk := await asyncio.shield(reading)) is not None:
            if run.stopping is not None and run.stopping.is_set():
                raise RunnerStopping
            reading = asyncio.ensure_future(asyncio.to_thread(reader.next_chunk, run.limits.chunk_rows))
            yield chunk
    finally:
        try:
            with contextlib.suppress(Exception):  # the run ends for its own reason: a read failing now adds nothing
                await reading
        finally:
            reader.close()


async def run_in_session(session: AsyncSession, run: Run, *, on_chunk: Callable[[Tally], Awaitable[None]] | None = None) -> Tally:
    """Every row of the file written in the session's transaction, under a savepoint rolled back at the end unless
    the import keeps its writes."""
    tally = Tally(max_errors=run.limits.max_errors)
    reader = await _reader(session, run)
    writer = RowWriter(run.spec, run.actor, reader, tally)
    data = await session.begin_nested()
    try:
        async for chunk in _chunks(reader, run):
            await writer.write(session, chunk)
            if on_chunk is not None:
                await on_chunk(tally)
    except BaseException:
        await data.rollback()
        raise
    await (data.commit() if run.keeps_writes(tally) else data.rollback())
    return tally


async def _finish(session: AsyncSession, run: Run, import_id: int, tally: Tally, error: str | None = None) -> None:
    failed = error is not None or run.fails(tally)
    repo = ImportRepository(session)
    counts = {"rows_done": tally.rows, "created": tally.created, "updated": tally.updated, "failed": tally.failed}
    await repo.save(
        import_id,
        **counts,
        status=ImportStatus.FAILED if failed else ImportStatus.SUCCEEDED,
        error=error,
        stored_path=None,
        finished_at=clock.now(),
    )
    # What the chunks did not store already (their errors, in the chunked path); the tally keeps them for the caller.
    await _store_errors(session, import_id, sorted(tally.errors, key=lambda error: error.row))
    await audit.record_batch(
        session,
        actor=run.actor,
        batch_type="import",
        batch_id=import_id,
        action=run.spec.entity,
        summary={"mode": run.mode, "dry_run": run.dry_run, "kept": not failed and not run.dry_run} | counts,
    )


async def _store_errors(session: AsyncSession, import_id: int, errors: list[RowError]) -> None:
    await ImportRepository(session).add_errors(import_id, [{k: v for k, v in asdict(e).items() if k != "field"} for e in errors])


async def get(session: AsyncSession, actor: Principal, import_id: int) -> DataImport:
    return await ImportRepository(session).get_scoped_or_404(import_id, actor, "imports", "Import")


async def errors_of(sessions: Sessions, import_id: int) -> AsyncIterator[list[object]]:
    """The row errors of an import the caller was shown (`get`) as CSV records, the header first; a session of its
    own, as the body streams after the request's has ended."""
    async with sessions() as session:
        yield ["row", "column", "value", "reason"]
        async for error in ImportRepository(session).errors_of(import_id):
            yield [error.row, error.column, error.value, error.reason]


# The runners: the scheduler process, and the worker that queued an import, right after its response.


async def run_queued(sessions: Sessions, settings: Settings, stopping: asyncio.Event | None = None) -> int:
    """Claims waiting imports one at a time and runs each; how many it ran. Any number of runners may call this at
    once, in any process: each import is claimed by exactly one. Once `stopping` is set it claims nothing more and
    hands the import in progress back at its next chunk."""
    ran = 0
    while stopping is None or not stopping.is_set():
        async with sessions() as session, session.begin():
            abandoned_before = _abandoned_before(session, settings)
            import_id = await ImportRepository(session).claim_next(abandoned_before)
        if import_id is None:
            break
        if await _run_claimed(sessions, settings, import_id, stopping):
            ran += 1
    return ran


def _abandoned_before(session: AsyncSession, settings: Settings) -> datetime:
    """A running import without progress since then has no runner left. PostgreSQL: the lease. SQLite, which one
    process serves and whose running import shows no progress until it ends: whatever ran before this process."""
    lease_start = clock.now() - timedelta(seconds=settings.import_lease_seconds)
    if session.get_bind().dialect.name == "postgresql":
        return lease_start
    return min(lease_start, PROCESS_STARTED_AT)


def _resumes(run: Run) -> bool:
    """valid_rows_only commits chunk by chunk with its progress, so a run taken over goes on from there; any other
    run wrote nothing that lasts and starts again."""
    return run.mode == ImportMode.VALID_ROWS_ONLY and not run.dry_run


async def _run_claimed(sessions: Sessions, settings: Settings, import_id: int, stopping: asyncio.Event | None) -> bool:
    """Whether the import ran to its end (rather than being handed back to wait for the next runner)."""
    async with sessions() as session:
        record = await session.get(DataImport, import_id)
        assert record is not None  # just claimed: imports are never deleted
        found = await principal_for_user(session, record.created_by_id)
    spec = ENTITIES[record.entity]
    # Who the importer is now: a deactivated account imports nothing, and the rows are written under its scopes.
    actor = found[0] if found is not None else Principal(user_id=record.created_by_id, name="inactive", team_id=None, roles=())
    path = Path(record.stored_path or "")
    run = Run(spec, actor, path, "csv", Limits.of(settings), record.mode, record.dry_run, stopping)
    tally, error = Tally(max_errors=run.limits.max_errors), None
    try:
        if found is None:
            raise Forbidden("The importer's account is no longer active", code="import.importer_inactive")
        ensure_can_import(actor, spec)
        run = replace(run, file_format=file_format(record.filename, spec.noun))
        total = await asyncio.to_thread(count_rows, path, run.file_format, spec.noun, max_rows=run.limits.max_rows)
        if total > run.limits.max_rows:
            raise too_many_rows(spec.noun, run.limits.max_rows)
        async with sessions() as session, session.begin():
            await ImportRepository(session).save(import_id, rows_total=total)
        tally = await _run_in_background(sessions, import_id, run)
    except RunnerStopping:
        await _hand_back(sessions, import_id, run)
        return False
    except DomainError as exc:
        error = exc.detail or exc.title
    except Exception as exc:
        log.exception("import %s failed", import_id)
        error = f"The import stopped unexpectedly: {type(exc).__name__}"
    except asyncio.CancelledError:
        # The runner was cancelled (its stop's grace ran out): the import waits, its file kept, for the next runner.
        await asyncio.shield(_hand_back(sessions, import_id, run))
        raise
    await _remove(path)
    async with sessions() as session, session.begin():
        await _finish(session, run, import_id, tally, error)
    return True


async def _hand_back(sessions: Sessions, import_id: int, run: Run) -> None:
    restart = {} if _resumes(run) else {"rows_done": 0, "created": 0, "updated": 0, "failed": 0}
    async with sessions() as session, session.begin():
        await ImportRepository(session).save(import_id, status=ImportStatus.QUEUED, **restart)


async def _run_in_background(sessions: Sessions, import_id: int, run: Run) -> Tally:
    if _resumes(run):
        return await _commit_by_chunk(sessions, import_id, run)
    async with sessions() as session, session.begin():
        separate = session.get_bind().dialect.name == "postgresql"

        async def progress(tally: Tally) -> None:
            # PostgreSQL shows progress from a transaction of its own; SQLite has one writer, the import's, so there
            # it shows once the import ends.
            if separate:
                async with sessions() as progress_session, progress_session.begin():
                    await _save_progress(progress_session, import_id, tally)

        return await run_in_session(session, run, on_chunk=progress)


async def _commit_by_chunk(sessions: Sessions, import_id: int, run: Run) -> Tally:
    """valid_rows_only: each chunk's rows, their row errors and the progress they make, committed together; a run
    taken over from a stopped one passes over the rows it committed."""
    async with sessions() as session:
        reader = await _reader(session, run)
        record = await session.get(DataImport, import_id)
        assert record is not None  # claimed by this runner
        stored = await ImportRepository(session).count_errors(import_id)
    tally = Tally(
        record.rows_done, record.created, record.updated, record.failed, stored=stored, max_errors=run.limits.max_errors
    )
    await asyncio.to_thread(reader.skip, tally.rows)
    writer = RowWriter(run.spec, run.actor, reader, tally)
    async for chunk in _chunks(reader, run):
        async with sessions() as session, session.begin():
            await writer.write(session, chunk)
            await _store_errors(session, import_id, tally.take_errors())
            await _save_progress(session, import_id, tally)
    return tally


async def _save_progress(session: AsyncSession, import_id: int, tally: Tally) -> None:
    await ImportRepository(session).save(
        import_id, rows_done=tally.rows, created=tally.created, updated=tally.updated, failed=tally.failed
    )
