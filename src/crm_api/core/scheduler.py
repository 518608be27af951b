"""Scheduled jobs: registered by domains, run once across processes, every run recorded."""

import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.clock import clock
from crm_api.core.config import Settings
from crm_api.core.db import Database
from crm_api.core.tables import JobRun

log = logging.getLogger("crm_api.scheduler")

JobFunction = Callable[[AsyncSession, Settings], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Job:
    name: str
    run: JobFunction
    cron: Callable[[Settings], str]


JOBS: dict[str, Job] = {}


def register_job(name: str, *, cron: Callable[[Settings], str]) -> Callable[[JobFunction], JobFunction]:
    """Decorator for a job body: `async def body(session, settings) -> counts`."""

    def decorate(function: JobFunction) -> JobFunction:
        JOBS[name] = Job(name=name, run=function, cron=cron)
        return function

    return decorate


def lock_key(job_name: str) -> int:
    """A stable signed 64-bit advisory lock key per job name."""
    return int.from_bytes(hashlib.sha256(job_name.encode()).digest()[:8], "big", signed=True)


async def _try_lock(session: AsyncSession, job_name: str) -> bool:
    if session.get_bind().dialect.name != "postgresql":
        return True  # SQLite: one process writes at a time anyway
    return bool(await session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": lock_key(job_name)}))


@dataclass(frozen=True)
class JobOutcome:
    outcome: str
    counts: dict[str, Any]


async def run_job(database: Database, settings: Settings, job: Job) -> JobOutcome:
    """Run a job in its own transaction under its advisory lock; skip if another process holds it."""
    started = clock.now()
    try:
        async with database.sessionmaker() as session, session.begin():
            if not await _try_lock(session, job.name):
                session.add(JobRun(job=job.name, started_at=started, finished_at=clock.now(), outcome="skipped"))
                log.info("job %s skipped: running elsewhere", job.name)
                return JobOutcome("skipped", {})
            counts = await job.run(session, settings)
            session.add(JobRun(job=job.name, started_at=started, finished_at=clock.now(), outcome="succeeded", counts=counts))
    except Exception as exc:
        log.exception("job %s failed", job.name)
        async with database.sessionmaker() as session, session.begin():
            session.add(
                JobRun(job=job.name, started_at=started, finished_at=clock.now(), outcome="failed", error=repr(exc)[:2000])
            )
        raise
    log.info("job %s succeeded: %s", job.name, counts)
    return JobOutcome("succeeded", counts)


def build_scheduler(database: Database, settings: Settings) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=settings.time_zone)
    for job in JOBS.values():
        scheduler.add_job(
            _run_quietly,
            CronTrigger.from_crontab(job.cron(settings), timezone=settings.time_zone),
            args=(database, settings, job),
            id=job.name,
            name=job.name,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=3600,
        )
    return scheduler


async def _run_quietly(database: Database, settings: Settings, job: Job) -> None:
    # Already logged and recorded in job_runs; the scheduler must keep going.
    try:
        await run_job(database, settings, job)
    except Exception:
        return
