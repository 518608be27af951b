import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from crm_api.churn.jobs import CHURN_SCAN
from crm_api.churn.service import months_before
from crm_api.core.clock import clock
from crm_api.core.db import Database, advisory_key
from crm_api.core.scheduler import JOBS, run_job
from crm_api.main import create_app
from crm_api.models.churn import ChurnWarning
from crm_api.models.customer import Customer
from crm_api.models.platform import JobRun
from tests.churn.factories import make_customer, make_order, make_warning
from tests.conftest import make_settings
from tests.factories import assert_problem, count_statements

# The frozen clock stands at 2026-06-15 10:00 in Asia/Shanghai: six calendar months back is 2025-12-15.
CUTOFF = date(2025, 12, 15)
LONG_AGO = datetime(2024, 1, 1, tzinfo=UTC)


async def _warned_customers(app) -> list[int]:
    async with app.state.db.sessionmaker() as session:
        return sorted((await session.scalars(select(ChurnWarning.customer_id))).all())


async def _scan(client, actor) -> dict:
    response = await client.post("/api/v1/churn-warnings/scan", headers=actor.headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_calendar_months_clamp_to_the_end_of_the_month():
    assert months_before(date(2026, 6, 15), 6) == date(2025, 12, 15)
    assert months_before(date(2026, 8, 31), 6) == date(2026, 2, 28)
    assert months_before(date(2028, 8, 31), 6) == date(2028, 2, 29)
    assert months_before(date(2026, 1, 10), 13) == date(2024, 12, 10)


async def test_scan_opens_a_warning_exactly_for_inactive_active_customers(app, client, actors, frozen_clock):
    admin = await actors.make("admin")
    owner = await actors.make("account_manager")
    customer = lambda **kw: make_customer(app, owner.id, created_at=LONG_AGO, **kw)  # noqa: E731

    exactly_six_months = await customer()
    await make_order(app, exactly_six_months, CUTOFF)
    one_day_more = await customer()
    await make_order(app, one_day_more, CUTOFF - timedelta(days=1), status=5)
    only_unfinished_orders = await customer()
    for status in (1, 2, 3, 4):
        await make_order(app, only_unfinished_orders, date(2026, 6, 1), status=status)
    recent_after_old = await customer()
    await make_order(app, recent_after_old, date(2024, 3, 1))
    await make_order(app, recent_after_old, date(2026, 5, 1))
    with_open_warning = await customer()
    await make_warning(app, with_open_warning, status="open")
    with_postponed_warning = await customer()
    await make_warning(app, with_postponed_warning, status="postponed")
    churned = await customer(status="churned")
    deleted = await customer(deleted_at=datetime(2026, 1, 1, tzinfo=UTC))
    # No orders: judged by the creation day in the business time zone (midnight 2025-12-15 = 16:00 UTC the day before).
    created_exactly_six_months_ago = await make_customer(app, owner.id, created_at=datetime(2025, 12, 14, 16, 30, tzinfo=UTC))
    created_a_day_earlier = await make_customer(app, owner.id, created_at=datetime(2025, 12, 14, 15, 59, tzinfo=UTC))
    new_customer = await make_customer(app, owner.id)

    before = set(await _warned_customers(app))
    assert await _scan(client, admin) == {"outcome": "succeeded", "opened": 3}
    opened = set(await _warned_customers(app)) - before
    assert opened == {one_day_more, only_unfinished_orders, created_a_day_earlier}
    untouched = {exactly_six_months, recent_after_old, churned, deleted, created_exactly_six_months_ago, new_customer}
    assert not opened & untouched
    assert sorted(await _warned_customers(app)).count(with_open_warning) == 1
    assert sorted(await _warned_customers(app)).count(with_postponed_warning) == 1

    # Idempotent: a second run opens nothing.
    assert await _scan(client, admin) == {"outcome": "succeeded", "opened": 0}


async def test_today_is_the_business_calendar_day_not_the_utc_day(app, client, actors):
    # 2026-06-14 17:00 UTC is already 2026-06-15 01:00 in Shanghai: cutoff 2025-12-15, so 2025-12-14 triggers.
    clock.freeze(datetime(2026, 6, 14, 17, 0, tzinfo=UTC))
    admin = await actors.make("admin")
    owner = await actors.make("account_manager")
    customer = await make_customer(app, owner.id, created_at=LONG_AGO)
    await make_order(app, customer, date(2025, 12, 14))
    assert (await _scan(client, admin))["opened"] == 1


async def test_the_scan_is_one_statement_however_many_customers(app, actors, frozen_clock, settings):
    owner = await actors.make("account_manager")
    for _ in range(5):
        await make_order(app, await make_customer(app, owner.id, created_at=LONG_AGO), date(2025, 1, 1))
    with count_statements(app.state.db.jobs.engine) as statements:  # jobs run on their own engine
        outcome = await run_job(app.state.db, settings, JOBS[CHURN_SCAN])
    assert outcome.counts == {"opened": 5}
    touching_warnings = [s for s in statements if "churn_warnings" in s]
    # The last warning id before the scan; one INSERT … SELECT opens the warnings, one notifies their owners of the
    # ones past that id, one more publishes them to the webhook outbox.
    statement_heads = [s.lstrip().split(" (")[0].split()[0:3] for s in touching_warnings]
    assert [" ".join(head).upper() for head in statement_heads] == [
        "SELECT MAX(CHURN_WARNINGS.ID) AS",
        "INSERT INTO CHURN_WARNINGS",
        "INSERT INTO NOTIFICATIONS",
        "INSERT INTO OUTBOX_EVENTS",
    ]
    assert not any("FROM customers" in s and "INSERT" not in s for s in statements)
    async with app.state.db.sessionmaker() as session:
        run = await session.scalar(select(JobRun).where(JobRun.job == CHURN_SCAN))
    assert run is not None and run.outcome == "succeeded" and run.counts == {"opened": 5}


async def test_only_admins_and_supervisors_run_the_scan(client, actors):
    assert_problem(await client.post("/api/v1/churn-warnings/scan"), 401)
    manager = await actors.make("account_manager")
    assert_problem(await client.post("/api/v1/churn-warnings/scan", headers=manager.headers), 403, "auth.missing_permission")
    supervisor = await actors.make("sales_supervisor")
    assert (await _scan(client, supervisor))["outcome"] == "succeeded"


def _skip_unless_postgresql(settings) -> None:
    if settings.is_sqlite:
        pytest.skip("advisory locks exist only on PostgreSQL; SQLite serialises writers, so there is no race to prove")


async def _bulk_inactive_customers(app, owner_id: int, count: int) -> None:
    async with app.state.db.sessionmaker() as session, session.begin():
        session.add_all(
            Customer(code=f"KHB{n:06d}", name=f"Bulk {n}", owner_id=owner_id, created_at=LONG_AGO) for n in range(count)
        )


async def test_concurrent_scans_on_postgresql_open_each_warning_once(app, actors, frozen_clock, settings):
    _skip_unless_postgresql(settings)
    owner = await actors.make("account_manager")
    await _bulk_inactive_customers(app, owner.id, 2000)
    # Two engines: two processes' worth of connections to the same database.
    first, second = Database(settings.database_url), Database(settings.database_url)
    try:
        outcomes = await asyncio.gather(run_job(first, settings, JOBS[CHURN_SCAN]), run_job(second, settings, JOBS[CHURN_SCAN]))
    finally:
        await first.dispose()
        await second.dispose()
    assert sum(o.counts.get("opened", 0) for o in outcomes) == 2000
    async with app.state.db.sessionmaker() as session:
        per_customer = (
            await session.execute(select(ChurnWarning.customer_id, func.count()).group_by(ChurnWarning.customer_id))
        ).all()
    assert len(per_customer) == 2000 and {count for _, count in per_customer} == {1}


async def test_a_scan_running_elsewhere_makes_this_one_skip(app, client, actors, frozen_clock, settings):
    _skip_unless_postgresql(settings)
    admin = await actors.make("admin")
    owner = await actors.make("account_manager")
    await make_customer(app, owner.id, created_at=LONG_AGO)
    other_process = Database(settings.database_url)
    try:
        async with other_process.sessionmaker() as session, session.begin():
            assert await session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": advisory_key(CHURN_SCAN)})
            assert await _scan(client, admin) == {"outcome": "skipped", "opened": 0}
    finally:
        await other_process.dispose()
    assert await _warned_customers(app) == []
    assert (await _scan(client, admin))["opened"] == 1


async def test_the_scheduler_starts_and_stops_with_the_app(settings):
    application = create_app(make_settings(settings.database_url, scheduler_enabled=True))
    tasks_before = asyncio.all_tasks()
    async with application.router.lifespan_context(application):
        scheduler = application.state.scheduler
        assert scheduler.running
        job = scheduler.get_job(CHURN_SCAN)
        assert job is not None
        next_run = job.next_run_time
        assert next_run.tzinfo is not None and str(next_run.tzinfo) == "Asia/Shanghai"
        assert (next_run.weekday(), next_run.hour, next_run.minute) == (5, 2, 0)  # Saturday 02:00
    assert not scheduler.running
    leaked = {t for t in asyncio.all_tasks() - tasks_before if not t.done()}
    assert leaked == set()


async def test_the_scan_is_listed_with_its_saturday_cron(client, actors):
    admin = await actors.make("admin")
    jobs = (await client.get("/api/v1/jobs", headers=admin.headers)).json()
    assert {"name": "churn_scan", "cron": "0 2 * * sat"} in jobs
