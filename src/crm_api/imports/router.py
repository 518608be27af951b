from typing import Annotated

from fastapi import BackgroundTasks, File, Form, Path, Request, Response, UploadFile, status
from fastapi.responses import StreamingResponse

from crm_api.core.auth import Authenticated
from crm_api.core.config import SettingsDep
from crm_api.core.db import DatabaseDep, SessionDep
from crm_api.core.files import csv_chunks
from crm_api.core.responses import raises
from crm_api.core.routing import DomainRouter
from crm_api.core.schemas import Id
from crm_api.imports import service
from crm_api.imports.policy import ImportEntity, ImportMode, ImportStatus
from crm_api.imports.schemas import ImportRead

router = DomainRouter(prefix="/imports", tags=["imports"])

QUEUED_LOCATION = {"description": "The URL of the import, to follow its progress", "schema": {"type": "string"}}


@router.post(
    "",
    response_model=ImportRead,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Import customers, contacts, leads, opportunities or products from a CSV or XLSX file",
    description="The header row names the columns: the fields of the entity's create body, in English or by their "
    "Chinese label (客户名称, 地区 …); `external_id` makes a row update the record that has it. A file of up to "
    "CRM_IMPORT_INLINE_MAX_ROWS rows runs now and answers 201 with the finished import; a larger one is queued "
    "and answers 202: follow `Location` for its progress. Row errors: GET …/errors.",
    responses={
        201: {"model": ImportRead, "description": "The import ran in the request; its outcome"},
        202: {"description": "Queued; the import runs in the background", "headers": {"Location": QUEUED_LOCATION}},
    },
)
@raises("import.person_required")
async def create_import(
    principal: Authenticated,
    session: SessionDep,
    database: DatabaseDep,
    settings: SettingsDep,
    background: BackgroundTasks,
    request: Request,
    response: Response,
    entity: Annotated[ImportEntity, Form()],
    file: Annotated[UploadFile, File(description="A .csv (UTF-8, with or without BOM, or GB18030) or .xlsx file")],
    mode: Annotated[ImportMode, Form(description="all_or_nothing: any invalid row and nothing is written")] = (
        ImportMode.ALL_OR_NOTHING
    ),
    dry_run: Annotated[bool, Form(description="Check and report only; nothing is written")] = False,
) -> ImportRead:
    record, _ = await service.submit(
        session,
        settings,
        principal,
        entity=entity,
        mode=mode,
        dry_run=dry_run,
        upload=service.Upload(file.file, file.filename or ""),
    )
    if record.status == ImportStatus.QUEUED:
        response.status_code = status.HTTP_202_ACCEPTED
        response.headers["Location"] = f"{request.url.path}/{record.id}"
        # This worker runs it once the response is sent (the request's transaction has committed by then).
        background.add_task(service.run_queued, database.sessionmaker, settings)
    else:
        response.status_code = status.HTTP_201_CREATED
    return ImportRead.model_validate(record)


@router.get("/{import_id}", response_model=ImportRead, summary="An import and its progress")
async def get_import(principal: Authenticated, session: SessionDep, import_id: Annotated[Id, Path()]) -> ImportRead:
    return ImportRead.model_validate(await service.get(session, principal, import_id))


@router.get(
    "/{import_id}/errors",
    response_class=StreamingResponse,
    summary="The rows an import did not write, as CSV: row, column, value, reason",
    responses={
        200: {"content": {"text/csv": {}}, "description": "The row errors, in file order"},
    },
)
async def list_import_errors(
    principal: Authenticated, session: SessionDep, database: DatabaseDep, import_id: Annotated[Id, Path()]
) -> StreamingResponse:
    await service.get(session, principal, import_id)  # 404 now, not in the middle of a streamed body
    return StreamingResponse(
        csv_chunks(service.errors_of(database.reader, import_id)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="import-{import_id}-errors.csv"'},
    )
