"""Sign-ins as a client makes them, a second app with other settings, and password checks a test can hold or count."""

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import Executor
from contextlib import asynccontextmanager

import httpx
import pytest

from crm_api.core import security
from crm_api.core.config import Settings
from crm_api.main import create_app
from tests.conftest import make_settings
from tests.factories import PASSWORD

AUTH = "/api/v1/auth"
DEADLINE = 10  # seconds any one wait may take before the test fails


@asynccontextmanager
async def app_client(settings: Settings, **overrides: object) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a second app on the test database, with some settings changed."""
    app = create_app(make_settings(settings.database_url, **overrides))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            yield client
    finally:
        await app.state.db.dispose()


class PasswordChecksSeen:
    """Counts the Argon2 checks that run (the guesses evaluated); held, each waits until the test lets it go."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, held: bool = False) -> None:
        self.count = 0
        self.release = asyncio.Event()
        if not held:
            self.release.set()
        self._changed = asyncio.Condition()
        real = security.verify_off_loop

        async def seen(password: str, hashed: str | None, threads: Executor) -> tuple[bool, str | None]:
            async with self._changed:
                self.count += 1
                self._changed.notify_all()
            await self.release.wait()
            return await real(password, hashed, threads)

        monkeypatch.setattr(security, "verify_off_loop", seen)

    async def reached(self, count: int) -> None:
        """Waits (up to DEADLINE) until `count` checks have started."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: self.count >= count), DEADLINE)


async def login(client: httpx.AsyncClient, username: str, password: str = PASSWORD, **headers: str) -> httpx.Response:
    return await client.post(f"{AUTH}/login", json={"username": username, "password": password}, headers=headers)


def bearer(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}
