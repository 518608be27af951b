"""POST /customers/import: the import pipeline (crm_api.imports) on customers, always run in the request and answered
with the report this endpoint has always sent."""

from typing import IO

from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.config import Settings
from crm_api.core.errors import FieldError, InvalidInput, PayloadTooLarge
from crm_api.core.permissions import Principal
from crm_api.customers.schemas import ImportMode, ImportReport, ImportRowError
from crm_api.customers.service import ensure_can_own
from crm_api.imports import service as imports
from crm_api.imports.policy import ImportEntity
from crm_api.imports.policy import ImportMode as Mode
from crm_api.imports.reader import max_sheet_rows

MAX_IMPORT_BYTES = 20 * 1024 * 1024
MAX_IMPORT_ROWS = 100_000
# Lines a file may have, blank ones included (its bounds, as every import's: crm_api.imports.reader).
MAX_SHEET_ROWS = max_sheet_rows(MAX_IMPORT_ROWS)


async def import_customers(
    session: AsyncSession,
    settings: Settings,
    actor: Principal,
    *,
    upload: IO[bytes],
    filename: str,
    size: int,
    dry_run: bool,
    mode: ImportMode,
) -> ImportReport:
    """Customers from a file, owned by the importer. all_or_nothing: any invalid row is a 422 and nothing is written."""
    ensure_can_own(actor)
    if size > MAX_IMPORT_BYTES:
        raise PayloadTooLarge(f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB")
    limits = imports.Limits.of(settings)
    _, tally = await imports.submit(
        session,
        settings,
        actor,
        entity=ImportEntity.CUSTOMERS,
        mode=Mode(mode),
        dry_run=dry_run,
        upload=imports.Upload(upload, filename),
        limits=imports.Limits(MAX_IMPORT_BYTES, MAX_IMPORT_ROWS, limits.chunk_rows, limits.max_errors),
        inline_max_rows=MAX_IMPORT_ROWS,
    )
    assert tally is not None  # inline up to the most rows it takes
    errors = [ImportRowError(row=e.row, field=e.field, message=e.reason, duplicate=e.duplicate) for e in tally.errors]
    written = not dry_run and not (mode == "all_or_nothing" and tally.failed)
    report = ImportReport(
        dry_run=dry_run,
        mode=mode,
        rows=tally.rows,
        valid=tally.created + tally.updated,
        invalid=tally.failed,
        created=tally.created if written else 0,
        errors=errors,
    )
    if mode == "all_or_nothing" and tally.failed and not dry_run:
        error = InvalidInput.many(
            [FieldError(field=f"row {e.row}: {e.field}", message=e.message, type="value_error") for e in errors],
            f"{tally.failed} of {tally.rows} rows are invalid; nothing was imported",
            code="customer_import.invalid_rows",
        )
        error.extra = {"report": report.model_dump()}
        raise error
    return report
