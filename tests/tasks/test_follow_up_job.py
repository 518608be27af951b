from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from crm_api.core.clock import clock
from crm_api.core.scheduler import JOBS, run_job
from crm_api.models.collaboration import Task
from crm_api.tasks.jobs import FOLLOW_UP_REMINDERS
from tests.churn.factories import make_customer
from tests.factories import assert_problem
from tests.tasks.factories import BASE, all_tasks, create_task, make_interaction

# The frozen clock stands at 2026-06-15 10:00 in Asia/Shanghai; 30 days back is 2026-05-16.
CUTOFF = date(2026, 5, 16)
# Midnight of the cutoff day in Shanghai.
CUTOFF_START = datetime(2026, 5, 15, 16, 0, tzinfo=UTC)
LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)


async def _run(app) -> int:
    outcome = await run_job(app.state.db, app.state.settings, JOBS[FOLLOW_UP_REMINDERS])
    assert outcome.outcome == "succeeded"
    return outcome.counts["opened"]


async def _follow_ups(app) -> list[tuple[int, int, str]]:
    """(customer, assignee, status) of every follow-up task."""
    return sorted((t.related_id, t.assignee_id, t.status) for t in await all_tasks(app) if t.kind == "follow_up")


async def test_opens_a_follow_up_exactly_for_customers_not_contacted_for_more_than_n_days(app, actors, frozen_clock):
    owner = await actors.make("account_manager")
    other_owner = await actors.make("account_manager")
    customer = lambda **kw: make_customer(app, owner.id, **({"created_at": LONG_AGO} | kw))  # noqa: E731

    exactly_n_days = await customer()
    await make_interaction(app, exactly_n_days, CUTOFF)
    one_day_more = await make_customer(app, other_owner.id, created_at=LONG_AGO)
    await make_interaction(app, one_day_more, CUTOFF - timedelta(days=1))
    recent_after_old = await customer()
    await make_interaction(app, recent_after_old, date(2025, 3, 1))
    await make_interaction(app, recent_after_old, date(2026, 6, 10))
    never_contacted_old = await customer()
    never_contacted_created_on_cutoff_day = await customer(created_at=CUTOFF_START)
    never_contacted_just_before = await customer(created_at=CUTOFF_START - timedelta(seconds=1))
    churned = await customer(status="churned")
    deleted = await customer(deleted_at=LONG_AGO)

    assert await _run(app) == 3
    assert await _follow_ups(app) == sorted(
        [
            (one_day_more, other_owner.id, "open"),
            (never_contacted_old, owner.id, "open"),
            (never_contacted_just_before, owner.id, "open"),
        ]
    )
    assert not {exactly_n_days, recent_after_old, never_contacted_created_on_cutoff_day, churned, deleted} & {
        c for c, _, _ in await _follow_ups(app)
    }
    task = next(t for t in await all_tasks(app) if t.related_id == never_contacted_old)
    assert (task.related_type, task.created_by_id, task.due_at) == ("customer", None, frozen_clock)
    assert "30 days" in task.title

    # A day later the customer contacted exactly N days ago is one day over; nobody gets a second task.
    clock.advance(timedelta(days=1))
    assert await _run(app) == 2
    assert {c for c, _, _ in await _follow_ups(app)} == {
        one_day_more,
        never_contacted_old,
        never_contacted_just_before,
        exactly_n_days,
        never_contacted_created_on_cutoff_day,
    }
    assert await _run(app) == 0


async def test_an_open_follow_up_blocks_another_until_it_is_closed(app, client, actors, frozen_clock):
    owner = await actors.make("account_manager")
    customer_id = await make_customer(app, owner.id, created_at=LONG_AGO)
    assert await _run(app) == 1
    follow_up = (
        await client.get(BASE, params={"related_type": "customer", "related_id": customer_id}, headers=owner.headers)
    ).json()["items"]
    assert [t["kind"] for t in follow_up] == ["follow_up"]
    assert await _run(app) == 0

    # A hand-written task about the customer is not a follow-up: it does not count.
    await create_task(client, owner, related_type="customer", related_id=customer_id)
    assert await _run(app) == 0

    done = await client.post(f"{BASE}/{follow_up[0]['id']}/complete", headers=owner.headers)
    assert done.status_code == 200, done.text
    # Still nobody recorded a contact: the next run asks again.
    assert await _run(app) == 1
    assert [s for _, _, s in await _follow_ups(app)] == ["done", "open"]


async def test_the_job_is_listed_and_runs_on_demand(client, actors, app, frozen_clock):
    admin = await actors.make("admin")
    owner = await actors.make("account_manager")
    await make_customer(app, owner.id, created_at=LONG_AGO)
    jobs = (await client.get("/api/v1/jobs", headers=admin.headers)).json()
    assert {"name": FOLLOW_UP_REMINDERS, "cron": "0 8 * * *"} in jobs
    assert_problem(await client.post(f"/api/v1/jobs/{FOLLOW_UP_REMINDERS}/run", headers=owner.headers), 403)
    run = await client.post(f"/api/v1/jobs/{FOLLOW_UP_REMINDERS}/run", headers=admin.headers)
    assert run.status_code == 200, run.text
    assert run.json()["counts"] == {"opened": 1}
    overdue_later = await client.get(BASE, params={"overdue": "true"}, headers=owner.headers)
    assert overdue_later.json()["items"] == []
    clock.advance(timedelta(minutes=1))
    overdue = await client.get(BASE, params={"overdue": "true"}, headers=owner.headers)
    assert [t["kind"] for t in overdue.json()["items"]] == ["follow_up"]


async def test_n_days_comes_from_the_setting(app, actors, frozen_clock, monkeypatch):
    owner = await actors.make("account_manager")
    customer_id = await make_customer(app, owner.id, created_at=LONG_AGO)
    await make_interaction(app, customer_id, date(2026, 6, 1))
    assert await _run(app) == 0
    monkeypatch.setattr(app.state.settings, "follow_up_days", 7)
    assert await _run(app) == 1


async def test_the_database_keeps_one_open_follow_up_per_customer(app, actors):
    owner = await actors.make("account_manager")
    customer_id = await make_customer(app, owner.id, created_at=LONG_AGO)

    def follow_up(status: str = "open") -> Task:
        return Task(
            title="跟进", assignee_id=owner.id, related_type="customer", related_id=customer_id, kind="follow_up", status=status
        )

    async with app.state.db.sessionmaker() as session, session.begin():
        session.add_all([follow_up(), follow_up("done"), follow_up("cancelled")])
    with pytest.raises(IntegrityError):
        async with app.state.db.sessionmaker() as session, session.begin():
            session.add(follow_up())
    assert len(await _follow_ups(app)) == 3
