"""Scheduled jobs: registered by domains, run once across processes, every run recorded."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core.clock import clock
from crm_api.core.config import Settings
from crm_api.core.db import Database, advisory_key
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


# SQLSTATE lock_not_available: the wait for the advisory lock ran past lock_timeout.
_LOCK_NOT_AVAILABLE = "55P03"


async def _lock(session: AsyncSession, job_name: str, *, wait_seconds: float) -> bool:
    """Take the job's advisory lock, waiting up to `wait_seconds` for a run in another process to end."""
    if session.get_bind().dialect.name != "postgresql":
        return True  # SQLite: one process writes at a time anyway
    key = {"key": advisory_key(job_name)}
    if wait_seconds <= 0:
        return bool(await session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), key))
    try:
        async with session.begin_nested():  # a timed-out wait rolls back to here and the skip is still recorded
            await session.execute(text(f"SET LOCAL lock_timeout = '{int(wait_seconds * 1000)}ms'"))
            await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), key)
            await session.execute(text("SET LOCAL lock_timeout = DEFAULT"))
    except DBAPIError as error:
        if getattr(error.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
            raise
        return False
    return True


@dataclass(frozen=True)
class JobOutcome:
    outcome: str
    counts: dict[str, Any]


async def _already_served(session: AsyncSession, job_name: str, scheduled_for: datetime) -> bool:
    """Whether another process already ran this fire time (it held the lock and has committed since)."""
    served = await session.scalar(
        select(JobRun.id)
        .where(JobRun.job == job_name, JobRun.scheduled_for == scheduled_for, JobRun.outcome != "skipped")
        .limit(1)
    )
    return served is not None


async def run_job(database: Database, settings: Settings, job: Job, *, scheduled_for: datetime | None = None) -> JobOutcome:
    """Run a job in its own transaction under its advisory lock; skip if another process holds it.

    `scheduled_for` is the fire time a scheduler run serves: every scheduler process fires it, and the first to take
    the lock runs it; one that takes the lock after that run committed finds it recorded and skips too.
    """
    started = clock.now()

    def record(outcome: str, counts: dict[str, Any] | None = None, error: str | None = None) -> JobRun:
        return JobRun(
            job=job.name,
            started_at=started,
            finished_at=clock.now(),
            scheduled_for=scheduled_for,
            outcome=outcome,
            counts=counts or {},
            error=error,
        )

    try:
        async with database.jobs.sessionmaker() as session, session.begin():
            # A fire time waits for a run of the previous one elsewhere, so no fire time is lost to a slow run;
            # a run asked for by hand does not wait.
            wait = settings.scheduler_lock_wait_seconds if scheduled_for is not None else 0
            if not await _lock(session, job.name, wait_seconds=wait):
                reason = "running elsewhere"
            elif scheduled_for is not None and await _already_served(session, job.name, scheduled_for):
                reason = f"{scheduled_for.isoformat()} already ran elsewhere"
            else:
                reason = None
            if reason is not None:
                session.add(record("skipped"))
                log.info("job %s skipped: %s", job.name, reason)
                return JobOutcome("skipped", {})
            counts = await job.run(session, settings)
            session.add(record("succeeded", counts))
    except Exception as exc:
        log.exception("job %s failed", job.name)
        async with database.jobs.sessionmaker() as session, session.begin():
            session.add(record("failed", error=repr(exc)[:2000]))
        raise
    log.info("job %s succeeded: %s", job.name, counts)
    return JobOutcome("succeeded", counts)


def cron_trigger(expression: str, time_zone: ZoneInfo) -> CronTrigger:
    """A crontab line (5 fields), or 6 with the seconds first: `*/5 * * * * *` fires every five seconds."""
    fields = expression.split()
    if len(fields) == 6:
        second, minute, hour, day, month, day_of_week = fields
        return CronTrigger(
            second=second, minute=minute, hour=hour, day=day, month=month, day_of_week=day_of_week, timezone=time_zone
        )
    return CronTrigger.from_crontab(expression, timezone=time_zone)


class Scheduler:
    """The jobs on APScheduler's asyncio scheduler: each run knows the fire time it serves, and a stop lets runs finish."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self._database = database
        self._settings = settings
        self._apscheduler = AsyncIOScheduler(timezone=settings.time_zone)
        self._fire_times: dict[str, datetime] = {}
        self._runs: set[asyncio.Task[None]] = set()
        # APScheduler submits a run (creating its task) and dispatches this event in the same synchronous step of the
        # event loop, so the fire time is in place before the run's first line executes.
        self._apscheduler.add_listener(self._remember_fire_time, EVENT_JOB_SUBMITTED)
        for job in JOBS.values():
            self._apscheduler.add_job(
                self._run,
                cron_trigger(job.cron(settings), settings.time_zone),
                args=(job,),
                id=job.name,
                name=job.name,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=3600,
            )

    def _remember_fire_time(self, event: JobSubmissionEvent) -> None:
        self._fire_times[event.job_id] = event.scheduled_run_times[-1]  # coalesced: the latest

    async def _run(self, job: Job) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._runs.add(task)
        try:
            await run_job(self._database, self._settings, job, scheduled_for=self._fire_times.pop(job.name, None))
        except Exception:
            return  # already logged and recorded in job_runs; the scheduler must keep going
        finally:
            self._runs.discard(task)

    @property
    def running(self) -> bool:
        return bool(self._apscheduler.running)

    def get_jobs(self) -> list[Any]:
        return list(self._apscheduler.get_jobs())

    def get_job(self, job_id: str) -> Any:
        return self._apscheduler.get_job(job_id)

    def start(self) -> None:
        self._apscheduler.start()

    async def stop(self, grace_seconds: float) -> None:
        """Fire nothing more, give the runs in progress `grace_seconds` to finish (then cancel them), and stop."""
        self._apscheduler.pause()
        if self._runs:
            log.info("waiting up to %s s for %d running job(s)", grace_seconds, len(self._runs))
            _, late = await asyncio.wait(set(self._runs), timeout=grace_seconds)
            if late:
                log.warning("cancelling %d job(s) still running after %s s", len(late), grace_seconds)
        self._apscheduler.shutdown(wait=False)  # cancels what is still running: its transaction rolls back
        await asyncio.sleep(0)  # AsyncIOScheduler shuts down on the next loop turn


def build_scheduler(database: Database, settings: Settings) -> Scheduler:
    return Scheduler(database, settings)
