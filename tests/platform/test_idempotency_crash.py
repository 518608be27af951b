"""Idempotency against a real server process: a retry right after a success, and a crash between commit and response."""

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
from sqlalchemy import func, select

from crm_api.models.customer import Customer
from tests.conftest import TEST_SECRET, repo_root
from tests.customers.factories import BASE

STARTUP_SECONDS = 30.0
BODY = {"name": "上海华信科技有限公司", "region": "shanghai", "level": "major"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _until(condition: Callable[[], object], seconds: float, what: str) -> None:
    """Polls `condition` (a coroutine function) until it is true, failing after `seconds`."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not await condition():  # type: ignore[misc]
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def process_environment(settings, **env: str) -> dict[str, str]:
    """The environment of a process of the app's on the tests' database."""
    return {
        **os.environ,
        "PYTHONPATH": str(repo_root() / "src"),
        "CRM_ENV": "test",
        "CRM_DATABASE_URL": settings.database_url,
        "CRM_SECRET_KEY": TEST_SECRET,
        "CRM_LOG_LEVEL": "WARNING",
        **env,
    }


@asynccontextmanager
async def server(settings, tmp_path, **env: str) -> AsyncIterator[tuple[httpx.AsyncClient, asyncio.subprocess.Process]]:
    """The app in a uvicorn process of its own on a loopback port, on the tests' database."""
    port = _free_port()
    environment = process_environment(settings, **env)
    command = [sys.executable, "-m", "uvicorn", "crm_api.main:create_app", "--factory", "--port", str(port)]
    process = await asyncio.create_subprocess_exec(*command, env=environment, cwd=tmp_path, stdout=asyncio.subprocess.DEVNULL)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:

            async def live() -> bool:
                assert process.returncode is None, "the server exited while starting"
                try:
                    return (await client.get("/health/live")).status_code == 200
                except httpx.TransportError:
                    return False

            await _until(live, STARTUP_SECONDS, "the server to start")
            yield client, process
    finally:
        if process.returncode is None:
            process.terminate()
        await asyncio.wait_for(process.wait(), STARTUP_SECONDS)


async def _customers(app) -> int:
    async with app.state.db.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Customer)) or 0)


async def test_a_retry_right_after_a_success_is_replayed(app, settings, actors, tmp_path):
    manager = await actors.make("account_manager")
    headers = manager.headers | {"Idempotency-Key": "right-after"}
    async with (
        server(settings, tmp_path) as (client, _),
        httpx.AsyncClient(base_url=client.base_url) as other,
        client.stream("POST", BASE, json=BODY, headers=headers) as first,
    ):
        # Sent the moment the first answer starts, on a connection of its own so it is not queued behind it.
        again = await other.post(BASE, json=BODY, headers=headers)
        await first.aread()
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
    assert await _customers(app) == 1


async def test_a_crash_between_commit_and_response_is_replayed_after_restart(app, settings, actors, tmp_path):
    manager = await actors.make("account_manager")
    headers = manager.headers | {"Idempotency-Key": "crash"}
    async with server(settings, tmp_path, CRM_TEST_CRASH_AFTER_COMMIT_PATH=BASE) as (client, process):
        try:
            response = await client.post(BASE, json=BODY, headers=headers)
        except httpx.TransportError:
            pass  # the connection dropped: the client cannot know whether the customer was created
        else:
            raise AssertionError(f"the request was answered: {response.status_code}")
        await asyncio.wait_for(process.wait(), STARTUP_SECONDS)
        assert process.returncode == -signal.SIGKILL
    assert await _customers(app) == 1

    async with server(settings, tmp_path) as (client, _):
        retry = await client.post(BASE, json=BODY, headers=headers)
    assert retry.status_code == 201, retry.text
    assert retry.headers["idempotent-replayed"] == "true" and retry.json()["name"] == BODY["name"]
    assert await _customers(app) == 1
