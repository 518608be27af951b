"""The deployment in processes: two API processes and a scheduler on one PostgreSQL, and a graceful stop on SIGTERM."""

import asyncio
import json
import signal
import sys
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import func, select, text

from crm_api.models.customer import Customer
from crm_api.models.platform import JobRun
from crm_api.webhooks.jobs import WEBHOOK_DISPATCH
from tests.customers.factories import BASE
from tests.platform.test_idempotency_crash import BODY, _free_port, _until, process_environment

STARTUP_SECONDS = 60.0  # three processes importing the app at once on a busy machine
STOP_SECONDS = 15.0
# The cheap job (an empty outbox) fires every second in every process that runs a scheduler.
EVERY_SECOND = "* * * * * *"

postgres_only = pytest.mark.usefixtures("_postgres_only")


@pytest.fixture
def _postgres_only(app) -> None:
    if app.state.db.dialect != "postgresql":
        pytest.skip("processes sharing one database and its advisory locks: the PostgreSQL lane")


@dataclass
class Process:
    process: asyncio.subprocess.Process
    port: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> int:
        """SIGTERM, then its exit code."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), STOP_SECONDS)


@asynccontextmanager
async def crm(settings, tmp_path, *arguments: str, **env: str) -> AsyncIterator[Process]:
    """`crm <arguments>` in a process of its own on the tests' database; an API is polled until it is live."""
    environment = process_environment(settings, CRM_WEBHOOK_DISPATCH_CRON=EVERY_SECOND, **env)
    port = _free_port() if arguments[0] == "serve" else None
    command = [sys.executable, "-m", "crm_api.cli", *arguments, *(["--port", str(port)] if port else [])]
    child = await asyncio.create_subprocess_exec(
        *command, env=environment, cwd=tmp_path, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    process = Process(child, port)
    try:
        if port is not None:
            async with httpx.AsyncClient(base_url=process.url, timeout=5) as client:

                async def live() -> bool:
                    assert child.returncode is None, f"crm {' '.join(arguments)} exited while starting"
                    try:
                        return (await client.get("/health/live")).status_code == 200
                    except httpx.TransportError:
                        return False

                await _until(live, STARTUP_SECONDS, f"crm {' '.join(arguments)} to start")
        yield process
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()


async def _dispatch_runs(app) -> list[JobRun]:
    async with app.state.db.sessionmaker() as session:
        return list((await session.scalars(select(JobRun).where(JobRun.job == WEBHOOK_DISPATCH).order_by(JobRun.id))).all())


@postgres_only
async def test_two_api_processes_and_a_scheduler_serve_every_request_and_run_each_fire_time_once(app, settings, actors, tmp_path):
    manager = await actors.make("account_manager")
    async with AsyncExitStack() as stack:
        # Both APIs run a scheduler too (CRM_SCHEDULER_ENABLED), so three schedulers compete for every fire time.
        first, second, scheduler = await asyncio.gather(
            stack.enter_async_context(crm(settings, tmp_path, "serve", CRM_SCHEDULER_ENABLED="true")),
            stack.enter_async_context(crm(settings, tmp_path, "serve", CRM_SCHEDULER_ENABLED="true")),
            stack.enter_async_context(crm(settings, tmp_path, "scheduler")),
        )
        apis = [await stack.enter_async_context(httpx.AsyncClient(base_url=p.url, timeout=10)) for p in (first, second)]

        created = await asyncio.gather(
            *(apis[i % 2].post(BASE, json={**BODY, "name": f"客户{i}"}, headers=manager.headers) for i in range(10))
        )
        read = await asyncio.gather(*(apis[i % 2].get(BASE, headers=manager.headers) for i in range(20)))
        assert [r.status_code for r in created] == [201] * 10, [r.text for r in created if r.status_code != 201]
        assert [r.status_code for r in read] == [200] * 20
        assert len({r.headers["x-request-id"] for r in [*created, *read]}) == 30

        async def three_fire_times_tried_by_all_three() -> bool:
            attempts = Counter(run.scheduled_for for run in await _dispatch_runs(app))
            return sum(1 for count in attempts.values() if count == 3) >= 3

        await _until(three_fire_times_tried_by_all_three, 20, "three fire times tried by the three schedulers")
        assert await asyncio.gather(first.stop(), second.stop(), scheduler.stop()) == [0, 0, 0]

    runs = await _dispatch_runs(app)
    by_fire_time: dict[object, list[str]] = defaultdict(list)
    for run in runs:
        assert run.scheduled_for is not None and run.finished_at is not None
        by_fire_time[run.scheduled_for].append(run.outcome)
    for fire_time, outcomes in by_fire_time.items():
        assert Counter(outcomes) == Counter({"succeeded": 1, "skipped": len(outcomes) - 1}), (fire_time, outcomes)
        assert len(outcomes) <= 3
    async with app.state.db.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Customer)) == 10


async def _read_head(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), STOP_SECONDS)


async def test_sigterm_lets_the_request_in_flight_finish_then_exits_0(app, settings, actors, tmp_path):
    manager = await actors.make("account_manager")
    body = json.dumps(BODY).encode()
    async with crm(settings, tmp_path, "serve") as api:
        reader, writer = await asyncio.open_connection("127.0.0.1", api.port)
        head = [
            f"POST {BASE} HTTP/1.1",
            f"Host: 127.0.0.1:{api.port}",
            f"Authorization: {manager.headers['Authorization']}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            "Expect: 100-continue",  # the server says when the endpoint starts reading the body
        ]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        await writer.drain()
        assert (await _read_head(reader)).startswith(b"HTTP/1.1 100")  # the request is in the app, waiting for its body

        api.process.send_signal(signal.SIGTERM)

        async def refusing_new_connections() -> bool:
            try:
                _, probe = await asyncio.open_connection("127.0.0.1", api.port)
            except OSError:
                return True
            probe.close()
            return False

        await _until(refusing_new_connections, STOP_SECONDS, "the server to stop accepting connections")
        assert api.process.returncode is None  # still finishing the request in flight
        writer.write(body)
        await writer.drain()
        response = await asyncio.wait_for(reader.read(), STOP_SECONDS)  # to the end: the server closes after it
        writer.close()
        assert response.startswith(b"HTTP/1.1 201"), response
        assert await asyncio.wait_for(api.process.wait(), STOP_SECONDS) == 0
    async with app.state.db.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Customer)) == 1


@postgres_only
async def test_sigterm_lets_the_running_job_finish_then_the_scheduler_exits_0(app, settings, tmp_path):
    async with app.state.db.engine.connect() as blocker, crm(settings, tmp_path, "scheduler") as scheduler:
        # The job's run cannot record itself while this transaction holds job_runs: it waits, mid-run, on the lock.
        await blocker.execute(text("LOCK TABLE job_runs IN EXCLUSIVE MODE"))

        async def a_run_waits_for_the_table() -> bool:
            assert scheduler.process.returncode is None
            waiting = await blocker.scalar(
                text("SELECT count(*) FROM pg_locks WHERE relation = 'job_runs'::regclass AND NOT granted")
            )
            return bool(waiting)

        await _until(a_run_waits_for_the_table, STARTUP_SECONDS, "a run of the job to be in progress")
        scheduler.process.send_signal(signal.SIGTERM)
        with pytest.raises(TimeoutError):  # it waits for the run rather than leaving it half done
            await asyncio.wait_for(asyncio.shield(scheduler.process.wait()), 1.0)
        await blocker.rollback()  # the run goes on and finishes
        assert await asyncio.wait_for(scheduler.process.wait(), STOP_SECONDS) == 0

    runs = await _dispatch_runs(app)
    assert [run.outcome for run in runs] == ["succeeded"]  # the one in flight, and none fired after the SIGTERM
    assert runs[0].finished_at is not None and runs[0].scheduled_for is not None
