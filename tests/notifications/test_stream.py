"""Push over Server-Sent Events, on a real server: a notification arrives within 2 s, a reconnect resumes from
Last-Event-ID, heartbeats keep it open, and it ends when its user's access does."""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta

import httpx
import pytest

from crm_api.core.clock import clock
from crm_api.main import create_app
from crm_api.notifications import service as notifications
from crm_api.notifications.policy import NotificationType
from tests.conftest import make_settings
from tests.factories import Actors, assert_problem
from tests.notifications.streams import STREAM, open_stream, served
from tests.opportunities.factories import assign as assign_opportunity
from tests.opportunities.factories import create_opportunity
from tests.platform.test_deployment import _postgres_only, crm, postgres_only  # noqa: F401  (the fixture postgres_only uses)

PUSH_SECONDS = 2.0


@pytest.fixture(scope="module")
async def stream_app(settings):
    """The app with quick heartbeats and polls, on the tests' database."""
    application = create_app(
        make_settings(
            settings.database_url,
            notification_heartbeat_seconds=0.5,
            notification_poll_seconds=0.2,
            notification_recheck_seconds=1.0,
        )
    )
    yield application
    await application.state.pubsub.stop()
    await application.state.db.dispose()


@pytest.fixture
async def base_url(stream_app) -> AsyncIterator[str]:
    async with served(stream_app) as url:
        yield url


@pytest.fixture
def people(stream_app) -> Actors:
    return Actors(stream_app)


async def _notify(app, user_id: int, title: str) -> int:
    async with app.state.db.sessionmaker() as session, session.begin():
        [notification] = await notifications.notify(session, [user_id], NotificationType.ASSIGNMENT, title, "body")
    return notification.id


async def test_an_assignment_reaches_the_assignees_open_stream_within_two_seconds(stream_app, base_url, people):
    creator = await people.make("account_manager", team="east")
    supervisor = await people.make("sales_supervisor", team="east")
    assignee = await people.make("account_manager", team="east")
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as api, open_stream(base_url, assignee.headers) as stream:
        opportunity = await create_opportunity(api, creator)
        started = asyncio.get_running_loop().time()
        assert (await assign_opportunity(api, supervisor, opportunity["id"], assignee)).status_code == 200
        event = await stream.next_of("notification", PUSH_SECONDS)
        assert asyncio.get_running_loop().time() - started < PUSH_SECONDS
    assert event is not None
    pushed = json.loads(event.data)
    assert pushed["type"] == "assignment" and pushed["entity_id"] == opportunity["id"]
    assert event.id == str(pushed["id"])


async def test_a_reconnect_with_last_event_id_gets_what_it_missed_in_order(stream_app, base_url, people):
    me = await people.make("account_manager")
    other = await people.make("account_manager")
    first = await _notify(stream_app, me.id, "first")
    await _notify(stream_app, other.id, "not mine")
    second, third = await _notify(stream_app, me.id, "second"), await _notify(stream_app, me.id, "third")
    async with open_stream(base_url, me.headers, **{"Last-Event-ID": str(first)}) as stream:
        missed = [await stream.next_of("notification", PUSH_SECONDS) for _ in range(2)]
        assert [e.id for e in missed if e] == [str(second), str(third)]
        assert [json.loads(e.data)["title"] for e in missed if e] == ["second", "third"]
    # Without it the stream starts from now.
    async with open_stream(base_url, me.headers) as stream:
        fourth = await _notify(stream_app, me.id, "fourth")
        event = await stream.next_of("notification", PUSH_SECONDS)
        assert event is not None and event.id == str(fourth)


async def test_an_idle_stream_gets_heartbeats(base_url, people):
    me = await people.make("account_manager")
    async with open_stream(base_url, me.headers) as stream:
        await stream.heartbeat(within=3)
        await stream.heartbeat(within=3)


async def test_disabling_the_user_ends_their_stream(stream_app, base_url, people):
    admin = await people.make("admin")
    me = await people.make("account_manager")
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as api, open_stream(base_url, me.headers) as stream:
        assert (await api.post(f"/api/v1/users/{me.id}/disable", headers=admin.headers)).status_code == 200
        closed = await stream.next_of("closed", 3)
        assert closed is not None and "sign in" in closed.data
        assert await stream.next_event(3) is None  # the server ended the response


async def test_an_expired_token_ends_the_stream(stream_app, base_url, people, frozen_clock):
    me = await people.make("account_manager")
    async with open_stream(base_url, me.headers) as stream:
        clock.advance(timedelta(minutes=stream_app.state.settings.access_token_minutes, seconds=1))
        closed = await stream.next_of("closed", 3)
        assert closed is not None
        assert await stream.next_event(3) is None


async def test_the_stream_needs_a_valid_token(base_url):
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as api:
        assert_problem(await api.get(STREAM), 401)
        assert_problem(await api.get(STREAM, headers={"Authorization": "Bearer nope"}), 401, "auth.invalid_token")


@postgres_only
async def test_a_notification_written_by_another_process_reaches_the_stream_within_two_seconds(settings, actors, tmp_path):
    creator = await actors.make("account_manager", team="east")
    supervisor = await actors.make("sales_supervisor", team="east")
    assignee = await actors.make("account_manager", team="east")
    async with AsyncExitStack() as stack:
        first, second = await asyncio.gather(
            stack.enter_async_context(crm(settings, tmp_path, "serve")),
            stack.enter_async_context(crm(settings, tmp_path, "serve")),
        )
        writer = await stack.enter_async_context(httpx.AsyncClient(base_url=second.url, timeout=10))
        stream = await stack.enter_async_context(open_stream(first.url, assignee.headers))
        opportunities = [await create_opportunity(writer, creator) for _ in range(3)]
        for opportunity in opportunities:  # several, so a first one that raced the LISTEN does not decide it
            started = asyncio.get_running_loop().time()
            assert (await assign_opportunity(writer, supervisor, opportunity["id"], assignee)).status_code == 200
            event = await stream.next_of("notification", PUSH_SECONDS)
            assert event is not None and json.loads(event.data)["entity_id"] == opportunity["id"]
            assert asyncio.get_running_loop().time() - started < PUSH_SECONDS


async def test_sigterm_ends_the_open_streams_and_the_server_exits_0(settings, actors, tmp_path):
    me = await actors.make("account_manager")
    async with crm(settings, tmp_path, "serve") as api, open_stream(api.url, me.headers) as stream:
        assert await api.stop() == 0  # within the stop timeout: an open stream does not hold the shutdown
        assert await stream.next_event(5) is None
