from typing import Annotated, Any

from fastapi import Depends, Query

from crm_api.core.auth import require
from crm_api.core.config import SettingsDep
from crm_api.core.db import DatabaseDep, SessionDep
from crm_api.core.pagination import Page, PageParams, listing
from crm_api.core.permissions import Principal
from crm_api.core.responses import raises
from crm_api.core.routing import DomainRouter
from crm_api.core.schemas import OutputModel
from crm_api.jobs import service
from crm_api.jobs.schemas import JobRead, JobRunRead

JobsRead = Annotated[Principal, Depends(require("jobs:read"))]
JobsRun = Annotated[Principal, Depends(require("jobs:run"))]

router = DomainRouter(prefix="/jobs", tags=["jobs"])


class JobRunResult(OutputModel):
    outcome: str
    counts: dict[str, Any]


@router.get("", response_model=list[JobRead], summary="Scheduled jobs and their cron")
async def list_jobs(_: JobsRead, settings: SettingsDep) -> list[JobRead]:
    return service.list_jobs(settings)


JobRunPage = Annotated[PageParams, listing("JobRunSort", "started_at")]


@router.get("/runs", response_model=Page[JobRunRead], summary="Recorded job runs, newest first")
@raises("pagination.invalid_cursor")
async def list_runs(
    _: JobsRead, session: SessionDep, page: JobRunPage, job: Annotated[str | None, Query(max_length=64)] = None
) -> Page[JobRunRead]:
    return await service.list_runs(session, page, job=job)


@router.post(
    "/{name}/run",
    response_model=JobRunResult,
    summary="Run a job now (skipped if it is running elsewhere)",
)
@raises("job.not_found")
async def run_job(name: str, _: JobsRun, database: DatabaseDep, settings: SettingsDep) -> JobRunResult:
    outcome = await service.run_now(database, settings, name)
    return JobRunResult(outcome=outcome.outcome, counts=outcome.counts)
