"""The app allowed to send to loopback, where the tests' SMTP server and robot receiver listen."""

import httpx
import pytest

from crm_api.main import create_app
from tests.conftest import make_settings
from tests.factories import Actors


@pytest.fixture(scope="package")
async def loopback_app(settings):
    """The app allowed to send to loopback (as CRM_WEBHOOK_ALLOW_PRIVATE_HOSTS does), where the test servers listen."""
    application = create_app(make_settings(settings.database_url, webhook_allow_private_hosts=True))
    yield application
    await application.state.pubsub.stop()
    await application.state.db.dispose()


@pytest.fixture
async def api(loopback_app):
    transport = httpx.ASGITransport(app=loopback_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
def people(loopback_app) -> Actors:
    return Actors(loopback_app)
