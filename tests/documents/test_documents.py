import hashlib
import os
from datetime import timedelta
from urllib.parse import unquote

import pytest

from crm_api.core.clock import clock
from crm_api.core.scheduler import JOBS, run_job
from tests.customers.factories import audit_of, churn, make_customer
from tests.documents.factories import (
    CSV,
    EXE,
    JPEG,
    PDF,
    PNG,
    all_documents,
    documents_url,
    stored_files,
    upload,
    xlsx,
    zip_of,
)
from tests.factories import assert_problem

CHINESE_NAME = "合同 2026年(终版).pdf"


async def test_upload_and_download_round_trip_with_a_chinese_filename(client, actors, document_dir):
    owner = await actors.make("account_manager")
    customer = await make_customer(client, owner)
    response = await upload(client, owner, customer["id"], PDF, CHINESE_NAME, description="年度框架合同")
    assert response.status_code == 201, response.text
    document = response.json()
    assert (document["filename"], document["content_type"], document["size"]) == (CHINESE_NAME, "application/pdf", len(PDF))
    assert document["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert (document["description"], document["uploaded_by_id"]) == ("年度框架合同", owner.id)
    assert stored_files(document_dir) == [document_dir / document["sha256"][:2] / document["sha256"]]

    url = documents_url(customer["id"], document["id"])
    assert (await client.get(url, headers=owner.headers)).json() == document
    listed = await client.get(documents_url(customer["id"]), headers=owner.headers)
    assert listed.json()["items"] == [document]

    download = await client.get(f"{url}/content", headers=owner.headers)
    assert download.status_code == 200
    assert download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    disposition = download.headers["content-disposition"]
    assert disposition.startswith("attachment; ")
    assert unquote(disposition.split("filename*=UTF-8''", 1)[1]) == CHINESE_NAME
    assert disposition.isascii()


@pytest.mark.parametrize(
    ("content", "filename", "content_type"),
    [
        (PNG, "门店照片.png", "image/png"),
        (JPEG, "名片.jpg", "image/jpeg"),
        (xlsx(), "报价明细.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (
            zip_of("[Content_Types].xml", "word/document.xml"),
            "方案.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (CSV, "联系人.csv", "text/csv"),
        ("会议纪要：下周二复盘".encode("gb18030"), "纪要.txt", "text/plain"),
    ],
)
async def test_accepted_types_are_read_from_the_content(client, actors, content, filename, content_type):
    owner = await actors.make("account_manager")
    customer = await make_customer(client, owner)
    response = await upload(client, owner, customer["id"], content, filename)
    assert response.status_code == 201, response.text
    assert response.json()["content_type"] == content_type


@pytest.mark.parametrize(
    ("content", "filename"),
    [
        (EXE, "invoice.pdf"),
        (zip_of("payload.exe"), "报价.xlsx"),
        (b"PK\x03\x04 not really a zip", "a.docx"),
        (b"\x00\x01binary\x00", "notes.txt"),
    ],
)
async def test_other_types_are_refused_and_nothing_is_written(client, actors, app, document_dir, content, filename):
    owner = await actors.make("account_manager")
    customer = await make_customer(client, owner)
    response = await upload(client, owner, customer["id"], content, filename)
    assert_problem(response, 415, "document.type_not_allowed")
    assert await all_documents(app) == []
    assert stored_files(document_dir) == []


async def test_too_large_and_empty_uploads_write_nothing(client, actors, app, document_dir, monkeypatch):
    owner = await actors.make("account_manager")
    customer = await make_customer(client, owner)
    monkeypatch.setattr(app.state.settings, "document_max_bytes", len(PDF) - 1)
    assert_problem(await upload(client, owner, customer["id"], PDF), 413, "upload.too_large")
    assert_problem(await upload(client, owner, customer["id"], b""), 422, "document.empty")
    assert_problem(await upload(client, owner, customer["id"], PDF[:10], description="x" * 501), 422)
    assert await all_documents(app) == []
    assert stored_files(document_dir) == []
    monkeypatch.setattr(app.state.settings, "document_max_bytes", len(PDF))
    assert (await upload(client, owner, customer["id"], PDF)).status_code == 201


async def test_auth_and_data_scope_through_the_customer(client, actors, app):
    owner = await actors.make("account_manager", team="east")
    stranger = await actors.make("account_manager", team="south")
    supervisor = await actors.make("sales_supervisor", team="east")
    marketer = await actors.make("marketer")
    executive = await actors.make("executive")
    customer = await make_customer(client, owner)
    document = (await upload(client, owner, customer["id"], PDF)).json()
    url = documents_url(customer["id"], document["id"])

    assert_problem(await upload(client, None, customer["id"], PDF), 401)
    assert_problem(await client.get(url), 401)
    assert_problem(await client.get(url, headers=marketer.headers), 403)
    assert_problem(await upload(client, executive, customer["id"], PDF), 403)
    for response in (
        await client.get(documents_url(customer["id"]), headers=stranger.headers),
        await client.get(url, headers=stranger.headers),
        await client.get(f"{url}/content", headers=stranger.headers),
        await upload(client, stranger, customer["id"], PDF),
        await client.delete(url, headers=stranger.headers),
    ):
        assert_problem(response, 404, "customer.not_found")
    for reader in (supervisor, executive):
        assert (await client.get(f"{url}/content", headers=reader.headers)).content == PDF
    # A document is found only under its own customer.
    other_customer = await make_customer(client, owner, name="另一家公司")
    assert_problem(
        await client.get(documents_url(other_customer["id"], document["id"]), headers=owner.headers), 404, "document.not_found"
    )
    assert_problem(await client.get(documents_url(customer["id"], 999_999), headers=owner.headers), 404)
    assert len(await all_documents(app)) == 1


async def test_churned_customers_are_read_only(client, actors, app):
    owner = await actors.make("account_manager")
    customer = await make_customer(client, owner)
    document = (await upload(client, owner, customer["id"], PDF)).json()
    await churn(app, customer["id"])
    url = documents_url(customer["id"], document["id"])
    assert_problem(await upload(client, owner, customer["id"], PNG, "x.png"), 409, "customer.not_active")
    assert_problem(await client.delete(url, headers=owner.headers), 409, "customer.not_active")
    assert (await client.get(f"{url}/content", headers=owner.headers)).content == PDF
    assert len(await all_documents(app)) == 1


async def test_delete_is_audited_and_orphan_files_are_swept_after_a_day(client, actors, app, document_dir, frozen_clock):
    owner = await actors.make("account_manager")
    admin = await actors.make("admin")
    customer = await make_customer(client, owner)
    first = (await upload(client, owner, customer["id"], PDF, "a.pdf")).json()
    same_content = (await upload(client, owner, customer["id"], PDF, "b.pdf")).json()
    png = (await upload(client, owner, customer["id"], PNG, "c.png")).json()
    assert len(stored_files(document_dir)) == 2  # content-addressed: one file for both PDFs

    for document in (first, png):
        response = await client.delete(documents_url(customer["id"], document["id"]), headers=owner.headers)
        assert response.status_code == 204
        assert_problem(await client.get(documents_url(customer["id"], document["id"]), headers=owner.headers), 404)
    assert [e["action"] for e in await audit_of(client, admin, "document", png["id"])] == ["create", "delete"]
    assert [d.id for d in await all_documents(app)] == [same_content["id"]]

    job = JOBS["document_orphans"]
    assert (await run_job(app.state.db, app.state.settings, job)).counts == {"removed": 0}  # too young to tell
    a_day_ago = (frozen_clock - timedelta(days=1, seconds=1)).timestamp()
    for path in stored_files(document_dir):
        os.utime(path, (a_day_ago, a_day_ago))
    (document_dir / ".upload-abandoned").write_bytes(b"partial")
    os.utime(document_dir / ".upload-abandoned", (a_day_ago, a_day_ago))
    clock.advance(timedelta(seconds=1))
    assert (await run_job(app.state.db, app.state.settings, job)).counts == {"removed": 2}
    assert stored_files(document_dir) == [document_dir / same_content["sha256"][:2] / same_content["sha256"]]
    content = await client.get(
        f"{documents_url(customer['id'], same_content['id'])}/content", headers=actors.headers_for(owner.id)
    )
    assert content.content == PDF
