"""A real server on loopback for the app, and a reader of its Server-Sent Events (httpx's ASGI transport buffers a
response whole, so a stream needs a socket)."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
import uvicorn
from fastapi import FastAPI

from tests.platform.test_idempotency_crash import _free_port, _until

STREAM = "/api/v1/notifications/stream"


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """The app behind uvicorn in this process, on a free loopback port; yields its base URL."""
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        assert not task.done(), "the server stopped while starting"
        return server.started

    await _until(started, 10, "the server to start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@dataclass
class Event:
    event: str | None = None
    id: str | None = None
    data: str = ""


@dataclass
class EventStream:
    """Reads events (and counts comment lines, the heartbeats) from an open text/event-stream response."""

    response: httpx.Response
    comments: int = 0
    _lines: AsyncIterator[str] = field(init=False)

    def __post_init__(self) -> None:
        self._lines = self.response.aiter_lines()

    async def next_event(self, within: float) -> Event | None:
        """The next event within `within` seconds (TimeoutError after), or None when the stream ended."""
        event = Event()
        async with asyncio.timeout(within):
            async for line in self._lines:
                if line.startswith(":"):
                    self.comments += 1
                elif line == "":
                    if event.event or event.data:
                        return event
                else:
                    name, _, value = line.partition(":")
                    value = value.removeprefix(" ")
                    if name == "data":
                        event.data += value
                    elif name in ("event", "id"):
                        setattr(event, name, value)
        return None

    async def next_of(self, kind: str, within: float) -> Event | None:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            event = await self.next_event(max(0.0, deadline - asyncio.get_running_loop().time()))
            if event is None or event.event == kind:
                return event

    async def heartbeat(self, within: float) -> None:
        """Until a comment line arrives (events meanwhile are skipped)."""
        seen = self.comments
        deadline = asyncio.get_running_loop().time() + within
        async with asyncio.timeout_at(deadline):
            async for line in self._lines:
                if line.startswith(":"):
                    self.comments += 1
                if self.comments > seen:
                    return


@asynccontextmanager
async def open_stream(base_url: str, headers: dict[str, str], **extra: str) -> AsyncIterator[EventStream]:
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(10, read=None)) as http,
        http.stream("GET", STREAM, headers={**headers, **extra}) as response,
    ):
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield EventStream(response)
