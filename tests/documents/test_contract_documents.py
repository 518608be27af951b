"""Documents attached to a contract: the contract's data scope, the customer documents' size and type limits."""

import hashlib

import pytest

from crm_api.main import MULTIPART_OVERHEAD, upload_limits
from tests.contracts.test_contracts import _contract
from tests.customers.factories import audit_of
from tests.documents.factories import EXE, PDF, PNG, all_documents, documents_url, stored_files, upload
from tests.factories import assert_problem
from tests.quotes.factories import Desk

CONTRACTS = "contracts"


@pytest.fixture
async def desk(client, actors):
    return await Desk(client, actors).set_up()


async def test_the_owner_attaches_lists_downloads_and_removes_a_contracts_document(client, app, desk, document_dir):
    contract = await _contract(desk)
    response = await upload(client, desk.manager, contract["id"], PDF, "合同扫描件.pdf", holder=CONTRACTS, description="盖章版")
    assert response.status_code == 201, response.text
    document = response.json()
    assert (document["contract_id"], document["customer_id"], document["interaction_id"]) == (
        contract["id"],
        contract["customer_id"],
        None,
    )
    assert (document["filename"], document["content_type"], document["description"]) == (
        "合同扫描件.pdf",
        "application/pdf",
        "盖章版",
    )
    assert document["sha256"] == hashlib.sha256(PDF).hexdigest()

    url = documents_url(contract["id"], document["id"], holder=CONTRACTS)
    assert (await client.get(url, headers=desk.manager.headers)).json() == document
    listed = await client.get(documents_url(contract["id"], holder=CONTRACTS), headers=desk.manager.headers)
    assert listed.json()["items"] == [document]
    download = await client.get(f"{url}/content", headers=desk.manager.headers)
    assert (download.status_code, download.content, download.headers["content-type"]) == (200, PDF, "application/pdf")

    # The contract's documents are its own: not among the customer's, nor found through the customer.
    customer_documents = await client.get(documents_url(contract["customer_id"]), headers=desk.manager.headers)
    assert customer_documents.json()["items"] == []
    assert_problem(
        await client.get(documents_url(contract["customer_id"], document["id"]), headers=desk.manager.headers),
        404,
        "document.not_found",
    )
    other = await _contract(desk, title="另一份合同")
    assert_problem(
        await client.get(documents_url(other["id"], document["id"], holder=CONTRACTS), headers=desk.manager.headers),
        404,
        "document.not_found",
    )

    assert (await client.delete(url, headers=desk.manager.headers)).status_code == 204
    assert_problem(await client.get(url, headers=desk.manager.headers), 404, "document.not_found")
    assert [e["action"] for e in await audit_of(client, desk.admin, "document", document["id"])] == ["create", "delete"]
    assert await all_documents(app) == []
    assert len(stored_files(document_dir)) == 1  # the orphan job sweeps the file later


async def test_auth_and_the_contracts_data_scope(client, actors, app, desk):
    contract = await _contract(desk)
    document = (await upload(client, desk.manager, contract["id"], PDF, holder=CONTRACTS)).json()
    url = documents_url(contract["id"], document["id"], holder=CONTRACTS)
    stranger = await actors.make("account_manager", team="south")
    marketer = await actors.make("marketer")
    executive = await actors.make("executive")

    assert_problem(await upload(client, None, contract["id"], PDF, holder=CONTRACTS), 401)
    assert_problem(await client.get(url), 401)
    assert_problem(await client.get(url, headers=marketer.headers), 403)
    assert_problem(await upload(client, executive, contract["id"], PDF, holder=CONTRACTS), 403)
    for response in (
        await client.get(documents_url(contract["id"], holder=CONTRACTS), headers=stranger.headers),
        await client.get(url, headers=stranger.headers),
        await client.get(f"{url}/content", headers=stranger.headers),
        await upload(client, stranger, contract["id"], PDF, holder=CONTRACTS),
        await client.delete(url, headers=stranger.headers),
    ):
        assert_problem(response, 404, "contract.not_found")
    for reader in (desk.supervisor, executive):
        assert (await client.get(f"{url}/content", headers=reader.headers)).content == PDF
    # The owner's supervisor holds contracts:write over the team: they may attach too.
    assert (await upload(client, desk.supervisor, contract["id"], PNG, "签字页.png", holder=CONTRACTS)).status_code == 201
    assert_problem(await client.get(documents_url(999_999, holder=CONTRACTS), headers=desk.manager.headers), 404)
    assert len(await all_documents(app)) == 2


async def test_the_customer_documents_limits_apply(client, app, desk, document_dir, monkeypatch):
    contract = await _contract(desk)
    assert_problem(
        await upload(client, desk.manager, contract["id"], EXE, "setup.exe", holder=CONTRACTS), 415, "document.type_not_allowed"
    )
    monkeypatch.setattr(app.state.settings, "document_max_bytes", len(PDF) - 1)
    assert_problem(await upload(client, desk.manager, contract["id"], PDF, holder=CONTRACTS), 413, "upload.too_large")
    assert_problem(await upload(client, desk.manager, contract["id"], b"", holder=CONTRACTS), 422, "document.empty")
    assert await all_documents(app) == []
    assert stored_files(document_dir) == []


def test_the_contract_upload_route_may_carry_a_document(app):
    """The body guard lets a contract's document through as it does a customer's (CRM_DOCUMENT_MAX_BYTES + form)."""
    limits = upload_limits(app.state.settings)
    allowed = {
        path: next((limit for pattern, limit in limits.items() if pattern.match(path)), None)
        for path in (
            "/api/v1/contracts/7/documents",
            "/api/v1/customers/7/documents",
        )
    }
    assert set(allowed.values()) == {app.state.settings.document_max_bytes + MULTIPART_OVERHEAD}
