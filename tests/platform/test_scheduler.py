import asyncio

import pytest
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from crm_api.core.db import Database, advisory_key
from crm_api.core.scheduler import JOBS, register_job, run_job
from crm_api.main import create_app
from crm_api.models.platform import JobRun
from tests.concurrency import skip_unless_postgresql
from tests.conftest import make_settings
from tests.factories import assert_problem


@pytest.fixture
def sample_job():
    calls = []

    @register_job("sample_job", cron=lambda settings: "0 2 * * sat")
    async def sample(session, settings):
        calls.append(settings.business_timezone)
        return {"touched": 3}

    yield JOBS["sample_job"], calls
    JOBS.pop("sample_job")


@pytest.fixture
def failing_job():
    @register_job("failing_job", cron=lambda settings: "0 3 * * *")
    async def failing(session, settings):
        raise ValueError("boom")

    yield JOBS["failing_job"]
    JOBS.pop("failing_job")


async def _runs(app):
    async with app.state.db.sessionmaker() as session:
        return list((await session.scalars(select(JobRun).order_by(JobRun.id))).all())


async def test_a_run_is_recorded_with_its_counts(app, settings, sample_job):
    job, calls = sample_job
    outcome = await run_job(app.state.db, settings, job)
    assert outcome.outcome == "succeeded" and outcome.counts == {"touched": 3}
    assert calls == ["Asia/Shanghai"]
    [run] = await _runs(app)
    assert (run.job, run.outcome, run.counts) == ("sample_job", "succeeded", {"touched": 3})
    assert run.finished_at >= run.started_at


async def test_a_failed_run_is_recorded_and_raised(app, settings, failing_job):
    with pytest.raises(ValueError, match="boom"):
        await run_job(app.state.db, settings, failing_job)
    [run] = await _runs(app)
    assert run.outcome == "failed" and "boom" in run.error


async def test_run_now_through_the_api(client, actors, sample_job):
    admin = await actors.make("admin")
    manager = await actors.make("account_manager")
    response = await client.post("/api/v1/jobs/sample_job/run", headers=admin.headers)
    assert response.json() == {"outcome": "succeeded", "counts": {"touched": 3}}
    runs = (await client.get("/api/v1/jobs/runs", params={"job": "sample_job"}, headers=admin.headers)).json()["items"]
    assert [r["outcome"] for r in runs] == ["succeeded"]
    assert_problem(await client.post("/api/v1/jobs/nope/run", headers=admin.headers), 404)
    assert_problem(await client.post("/api/v1/jobs/sample_job/run", headers=manager.headers), 403)
    jobs = (await client.get("/api/v1/jobs", headers=admin.headers)).json()
    assert {"name": "sample_job", "cron": "0 2 * * sat"} in jobs


async def test_a_job_running_in_another_process_is_skipped(app, settings, sample_job):
    if app.state.db.dialect != "postgresql":
        pytest.skip("advisory locks exist on PostgreSQL only; SQLite serialises writers itself")
    job, calls = sample_job
    async with app.state.db.engine.connect() as other_process:
        await other_process.execute(text("SELECT pg_advisory_lock(:key)"), {"key": advisory_key(job.name)})
        outcome = await run_job(app.state.db, settings, job)
        await other_process.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": advisory_key(job.name)})
    assert outcome.outcome == "skipped" and calls == []
    assert [r.outcome for r in await _runs(app)] == ["skipped"]
    assert (await run_job(app.state.db, settings, job)).outcome == "succeeded"


async def test_the_scheduler_starts_and_stops_with_the_app(settings, sample_job):
    app = create_app(make_settings(settings.database_url, scheduler_enabled=True))
    tasks_before = asyncio.all_tasks()
    async with app.router.lifespan_context(app):
        scheduler_jobs = {job.id: job for job in app.state.scheduler.get_jobs()}
        trigger = scheduler_jobs["sample_job"].trigger
        assert isinstance(trigger, CronTrigger)
        assert str(trigger.timezone) == "Asia/Shanghai"
        assert "day_of_week='sat'" in str(trigger) and "hour='2'" in str(trigger)
        assert app.state.scheduler.running
    assert not app.state.scheduler.running
    assert asyncio.all_tasks() - tasks_before == set()


async def test_without_the_setting_no_scheduler_runs(app):
    async with app.router.lifespan_context(app):
        assert app.state.scheduler is None


async def test_a_job_may_run_a_statement_longer_than_a_request_may(settings):
    skip_unless_postgresql(settings)
    # Requests get 0.2 s a statement here; a churn scan over a million customers takes far longer than a request's 8 s.
    bounded = make_settings(settings.database_url, database_statement_timeout_ms=200, job_statement_timeout_seconds=30)
    database = Database.from_settings(bounded)

    @register_job("slow_job", cron=lambda settings: "0 4 * * *")
    async def slow(session, settings):
        await session.execute(text("SELECT pg_sleep(0.5)"))
        return {"slept": 1}

    try:
        with pytest.raises(DBAPIError, match="statement timeout"):
            async with database.sessionmaker() as session, session.begin():
                await session.execute(text("SELECT pg_sleep(0.5)"))
        outcome = await run_job(database, bounded, JOBS["slow_job"])
        assert (outcome.outcome, outcome.counts) == ("succeeded", {"slept": 1})
    finally:
        JOBS.pop("slow_job")
        await database.dispose()
