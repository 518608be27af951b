"""Scheduled jobs seen from the API: what is scheduled, how runs went, and running one now."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.config import Settings
from crm_api.core.db import Database
from crm_api.core.errors import NotFound
from crm_api.core.pagination import Page, PageParams, Sort, paginate
from crm_api.core.scheduler import JOBS, JobOutcome, run_job
from crm_api.jobs.schemas import JobRead, JobRunRead
from crm_api.models.platform import JobRun


def list_jobs(settings: Settings) -> list[JobRead]:
    return [JobRead(name=job.name, cron=job.cron(settings)) for job in JOBS.values()]


async def list_runs(session: AsyncSession, params: PageParams, *, job: str | None) -> Page[JobRunRead]:
    statement = select(JobRun)
    if job:
        statement = statement.where(JobRun.job == job)
    return (await paginate(session, statement, params, Sort([JobRun.id]))).to_page(JobRunRead.model_validate)


async def run_now(database: Database, settings: Settings, name: str) -> JobOutcome:
    job = JOBS.get(name)
    if job is None:
        raise NotFound("Job", name)
    return await run_job(database, settings, job)
