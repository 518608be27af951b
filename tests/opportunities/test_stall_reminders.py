from datetime import timedelta

from crm_api.core.clock import clock
from crm_api.opportunities.jobs import raise_stall_reminders
from tests.factories import assert_problem
from tests.opportunities.factories import API, opportunity_in

REMINDERS = "/api/v1/reminders"


async def _run(app) -> int:
    async with app.state.db.sessionmaker() as session, session.begin():
        counts = await raise_stall_reminders(session, app.state.settings)
    return counts["reminders_raised"]


async def _people(actors):
    creator = await actors.make("account_manager", team="east")
    supervisor = await actors.make("sales_supervisor", team="east")
    assignee = await actors.make("account_manager", team="east")
    return creator, supervisor, assignee


async def test_a_stalled_assigned_opportunity_reminds_its_assignee_once(client, actors, app, frozen_clock):
    creator, supervisor, assignee = await _people(actors)
    stalled = await opportunity_in(client, "assigned", creator=creator, supervisor=supervisor, assignee=assignee)
    await opportunity_in(client, "unassigned", creator=creator, supervisor=supervisor, assignee=assignee)
    await opportunity_in(client, "lost", creator=creator, supervisor=supervisor, assignee=assignee)

    clock.advance(timedelta(days=14) - timedelta(minutes=1))
    assert await _run(app) == 0
    clock.advance(timedelta(minutes=1))
    assert await _run(app) == 1
    clock.advance(timedelta(days=1))
    assert await _run(app) == 0  # the open reminder is not repeated

    # Tokens are short-lived: sign in again after the weeks that passed.
    assignee.headers, creator.headers = actors.headers_for(assignee.id), actors.headers_for(creator.id)
    mine = (await client.get(REMINDERS, headers=assignee.headers)).json()["items"]
    assert len(mine) == 1
    reminder = mine[0]
    assert reminder["opportunity_id"] == stalled["id"]
    assert reminder["kind"] == "opportunity_stall"
    assert stalled["code"] in reminder["message"]
    assert (await client.get(REMINDERS, headers=creator.headers)).json()["items"] == []

    assert_problem(await client.post(f"{REMINDERS}/{reminder['id']}/done", headers=creator.headers), 404, "reminder.not_found")
    done = await client.post(f"{REMINDERS}/{reminder['id']}/done", headers=assignee.headers)
    assert done.status_code == 200 and done.json()["done_at"] is not None
    assert (await client.get(REMINDERS, params={"open": True}, headers=assignee.headers)).json()["items"] == []
    # Done but still stalled: the next run reminds again.
    assert await _run(app) == 1


async def test_a_stage_change_restarts_the_count(client, actors, app, frozen_clock):
    creator, supervisor, assignee = await _people(actors)
    opportunity = await opportunity_in(client, "assigned", creator=creator, supervisor=supervisor, assignee=assignee)
    clock.advance(timedelta(days=10))
    assignee.headers = actors.headers_for(assignee.id)
    moved = await client.post(f"{API}/{opportunity['id']}/stage", json={"stage": "proposal"}, headers=assignee.headers)
    assert moved.status_code == 200
    clock.advance(timedelta(days=5))
    assert await _run(app) == 0
    clock.advance(timedelta(days=9))
    assert await _run(app) == 1


async def test_admin_runs_the_job_over_http_and_the_run_is_recorded(client, actors, frozen_clock):
    admin = await actors.make("admin")
    creator, supervisor, assignee = await _people(actors)
    await opportunity_in(client, "assigned", creator=creator, supervisor=supervisor, assignee=assignee)
    clock.advance(timedelta(days=15))
    admin.headers, assignee.headers = actors.headers_for(admin.id), actors.headers_for(assignee.id)
    assert_problem(await client.post("/api/v1/jobs/opportunity_stall/run", headers=assignee.headers), 403)
    run = await client.post("/api/v1/jobs/opportunity_stall/run", headers=admin.headers)
    assert run.status_code == 200
    assert run.json() == {"outcome": "succeeded", "counts": {"reminders_raised": 1, "notified": 1}}
    again = await client.post("/api/v1/jobs/opportunity_stall/run", headers=admin.headers)
    assert again.json()["counts"] == {"reminders_raised": 0, "notified": 0}
    runs = (await client.get("/api/v1/jobs/runs", params={"job": "opportunity_stall"}, headers=admin.headers)).json()
    assert len(runs["items"]) == 2
    jobs = (await client.get("/api/v1/jobs", headers=admin.headers)).json()
    assert {"name": "opportunity_stall", "cron": "0 3 * * *"} in jobs


async def test_reminders_need_a_signed_in_user(client):
    assert_problem(await client.get(REMINDERS), 401)


async def test_moving_the_stage_or_closing_settles_the_open_reminder(client, actors, app, frozen_clock):
    creator, supervisor, assignee = await _people(actors)
    moving = await opportunity_in(client, "assigned", creator=creator, supervisor=supervisor, assignee=assignee)
    losing = await opportunity_in(client, "assigned", creator=creator, supervisor=supervisor, assignee=assignee)
    untouched = await opportunity_in(client, "assigned", creator=creator, supervisor=supervisor, assignee=assignee)
    clock.advance(timedelta(days=20))
    assert await _run(app) == 3
    assignee.headers = actors.headers_for(assignee.id)
    await client.post(f"{API}/{moving['id']}/stage", json={"stage": "proposal"}, headers=assignee.headers)
    await client.post(f"{API}/{losing['id']}/lose", headers=assignee.headers)
    still_open = (await client.get(REMINDERS, params={"open": True}, headers=assignee.headers)).json()["items"]
    assert [r["opportunity_id"] for r in still_open] == [untouched["id"]]
