"""FastAPI's native OpenTelemetry is off unless CRM_OPENTELEMETRY turns it on: off, a request does not ask the global
providers whether anyone configured them (three environment lookups and more on every request)."""

import httpx
import pytest
from opentelemetry import trace

from crm_api.main import create_app
from tests.conftest import make_settings


@pytest.mark.parametrize("opentelemetry", [False, True])
async def test_a_request_asks_for_the_tracer_provider_only_when_opentelemetry_is_on(settings, monkeypatch, opentelemetry):
    asked: list[object] = []
    provider = trace.get_tracer_provider()
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: asked.append(provider) or provider)
    app = create_app(make_settings(settings.database_url, opentelemetry=opentelemetry))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            response = await client.get("/health/live")
    finally:
        await app.state.db.dispose()
    assert response.status_code == 200
    assert bool(asked) == opentelemetry
