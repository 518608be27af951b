"""The access log: one JSON line per request recorded, carrying its request id; sampled, but never a slow request."""

import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest

from crm_api.core.config import Settings
from crm_api.main import create_app
from tests.conftest import make_settings


@pytest.fixture
def access_log(caplog) -> Iterator[None]:
    """caplog sees the access log (the crm_api loggers do not propagate to the root)."""
    logger = logging.getLogger("crm_api.access")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger="crm_api.access")
    try:
        yield
    finally:
        logger.removeHandler(caplog.handler)


@asynccontextmanager
async def _client(settings, **overrides: object) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(settings.database_url, **overrides))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            yield client
    finally:
        await app.state.db.dispose()


def _lines(caplog) -> list[dict[str, object]]:
    return [json.loads(record.getMessage()) for record in caplog.records if record.name == "crm_api.access"]


async def test_every_request_is_a_json_line_with_its_request_id_outside_production(settings, caplog, access_log):
    async with _client(settings) as client:
        response = await client.get("/health/live")
        missing = await client.get("/api/v1/no-such-thing")
    lines = _lines(caplog)
    assert [(line["method"], line["path"], line["status"]) for line in lines] == [
        ("GET", "/health/live", 200),
        ("GET", "/api/v1/no-such-thing", 404),
    ]
    assert [line["request_id"] for line in lines] == [response.headers["X-Request-ID"], missing.headers["X-Request-ID"]]
    assert all(isinstance(line["ms"], float) and line["ms"] >= 0 for line in lines)


async def test_a_sampled_log_still_records_every_slow_request(settings, caplog, access_log):
    async with _client(settings, access_log_sample=0.0) as client:
        for _ in range(20):
            assert (await client.get("/health/live")).status_code == 200
    assert _lines(caplog) == []
    async with _client(settings, access_log_sample=0.0, access_log_slow_ms=0.0) as client:
        await client.get("/health/live")
    assert [line["path"] for line in _lines(caplog)] == ["/health/live"]


def test_production_samples_five_percent_unless_told():
    def production(**overrides: object) -> Settings:
        return Settings(_env_file=None, env="prod", secret_key="s" * 40, **overrides)  # type: ignore[arg-type]

    assert production().access_log_share == 0.05
    assert production(access_log_sample=1.0).access_log_share == 1.0
    assert make_settings("sqlite+aiosqlite://").access_log_share == 1.0
