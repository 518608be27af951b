"""A Python client generated from the committed contract, unedited, against a real server: what an integrator gets."""

import importlib
import sys

import pytest

from tests.conftest import repo_root
from tests.factories import PASSWORD
from tests.platform.test_idempotency_crash import server

PACKAGE = "crm_generated_client"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The client openapi-python-client writes from openapi/openapi.json, offline and with no post-processing."""
    generator = pytest.importorskip("openapi_python_client")
    from openapi_python_client.config import Config, ConfigFile, MetaType

    root = tmp_path_factory.mktemp("client")
    config = Config.from_sources(
        ConfigFile(package_name_override=PACKAGE, post_hooks=[]),
        MetaType.NONE,
        repo_root() / "openapi" / "openapi.json",
        "utf-8",
        overwrite=True,
        output_path=root / PACKAGE,
    )
    errors = generator.generate(config=config)
    assert not errors, [f"{error.header}: {error.detail}" for error in errors]
    sys.path.insert(0, str(root))
    try:
        yield lambda name: importlib.import_module(f"{PACKAGE}.{name}")
    finally:
        sys.path.remove(str(root))
        for module in [name for name in sys.modules if name.startswith(PACKAGE)]:
            del sys.modules[module]


async def test_a_generated_client_signs_in_creates_reads_and_gets_typed_problems(generated, settings, actors, tmp_path):
    manager = await actors.make("account_manager")
    client_module, models = generated("client"), generated("models")
    login, create, get, update, listing = (
        generated(f"api.{operation}")
        for operation in (
            "auth.login",
            "customers.create_customer",
            "customers.get_customer",
            "customers.update_customer",
            "customers.list_customers",
        )
    )
    async with server(settings, tmp_path) as (http, _):
        anonymous = client_module.Client(base_url=str(http.base_url))
        signed_in = await login.asyncio_detailed(
            client=anonymous, body=models.LoginRequest(username=manager.username, password=PASSWORD)
        )
        assert signed_in.status_code == 200 and isinstance(signed_in.parsed, models.TokenPair)
        client = client_module.AuthenticatedClient(base_url=str(http.base_url), token=signed_in.parsed.access_token)

        created = await create.asyncio_detailed(
            client=client, body=models.CustomerCreate(name="上海华信科技有限公司", region="shanghai", level="major")
        )
        assert created.status_code == 201 and isinstance(created.parsed, models.CustomerRead)
        customer_id = created.parsed.id
        assert created.headers["location"] == f"/api/v1/customers/{customer_id}"

        read = await get.asyncio_detailed(customer_id, client=client)
        assert isinstance(read.parsed, models.CustomerRead) and read.parsed.name == "上海华信科技有限公司"
        changed = await update.asyncio_detailed(
            customer_id, client=client, body=models.CustomerUpdate(phone="021-6234 5678"), if_match=read.headers["etag"]
        )
        assert isinstance(changed.parsed, models.CustomerRead) and changed.parsed.version == read.parsed.version + 1
        page = await listing.asyncio_detailed(client=client)
        assert [customer.id for customer in page.parsed.items] == [customer_id]

        missing = await get.asyncio_detailed(customer_id + 1000, client=client)
        assert missing.status_code == 404 and isinstance(missing.parsed, models.Problem)
        assert missing.parsed.code == "customer.not_found"

        refused = await create.asyncio_detailed(client=client, body=models.CustomerCreate(name="华信", region="atlantis"))
        assert refused.status_code == 422 and isinstance(refused.parsed, models.ValidationProblem)
        assert [error.field for error in refused.parsed.errors] == ["region"]
