"""POST /api/v1/imports: messy files of every entity, dry runs, both modes, re-imports that update, the background path."""

import csv
import io
from typing import Any

import httpx
import pytest

from tests.custom_fields.factories import define_field
from tests.customers.factories import make_customer
from tests.factories import Actor, assert_problem, count_statements
from tests.imports.files import CSV, CUSTOMERS, FILES, LEADS, ROWS, XLSX, csv_bytes, row_number, xlsx_bytes
from tests.platform.test_idempotency_crash import _until
from tests.sync.factories import Device
from tests.webhooks.factories import outbox

IMPORTS = "/api/v1/imports"
# Where each entity's records are counted, as the importer (an admin: every scope) reads them.
LISTS = {
    "customers": "/api/v1/customers",
    "leads": "/api/v1/leads",
    "opportunities": "/api/v1/opportunities",
    "products": "/api/v1/products",
}


@pytest.fixture(autouse=True)
def document_dir(app, tmp_path, monkeypatch):
    """Each test stores its uploads in a directory of its own."""
    monkeypatch.setattr(app.state.settings, "document_dir", tmp_path / "documents")
    return tmp_path / "documents"


async def upload(
    client: httpx.AsyncClient,
    actor: Actor,
    entity: str,
    file: tuple[str, bytes, str],
    *,
    mode: str = "all_or_nothing",
    dry_run: bool = False,
) -> httpx.Response:
    data = {"entity": entity, "mode": mode, "dry_run": str(dry_run).lower()}
    return await client.post(IMPORTS, data=data, files={"file": file}, headers=actor.headers)


async def finished(client: httpx.AsyncClient, actor: Actor, response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == f"{IMPORTS}/{response.json()['id']}"
    return dict(response.json())


async def row_errors(client: httpx.AsyncClient, actor: Actor, import_id: int) -> list[dict[str, str]]:
    response = await client.get(f"{IMPORTS}/{import_id}/errors", headers=actor.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


async def count(client: httpx.AsyncClient, actor: Actor, entity: str) -> int:
    if entity == "contacts":
        customers = (await client.get(LISTS["customers"], headers=actor.headers)).json()["items"]
        paths = [f"{LISTS['customers']}/{customer['id']}/contacts" for customer in customers]
    else:
        paths = [LISTS[entity]]
    total = 0
    for path in paths:
        response = await client.get(path, params={"with_total": "true"}, headers=actor.headers)
        assert response.status_code == 200, response.text
        total += response.json()["total"]
    return total


async def importer(client: httpx.AsyncClient, actors: Any, entity: str) -> Actor:
    admin = await actors.make("admin")
    if entity == "contacts":  # the customers KH00000001 and KH00000002 the contacts belong to
        await make_customer(client, admin, name="联系人之家一", phone=None)
        await make_customer(client, admin, name="联系人之家二", phone=None)
    return admin


@pytest.mark.parametrize("entity", list(FILES))
async def test_a_messy_file_is_reported_row_by_row_and_its_corrected_version_updates(client, actors, entity):
    file = FILES[entity]
    admin = await importer(client, actors, entity)
    bad = len(file.expected)

    # valid_rows_only: the good rows are written, the bad ones reported exactly.
    partial = await finished(client, admin, await upload(client, admin, entity, file.content(), mode="valid_rows_only"))
    assert (partial["status"], partial["rows_total"], partial["rows_done"]) == ("succeeded", ROWS, ROWS)
    assert (partial["created"], partial["updated"], partial["failed"]) == (ROWS - bad, 0, bad)
    errors = await row_errors(client, admin, partial["id"])
    assert {(int(e["row"]), e["column"], e["value"]) for e in errors} == file.expected
    assert all(e["reason"] for e in errors)
    assert await count(client, admin, entity) == ROWS - bad

    # The corrected file: the refused rows are created, the others updated by their external_id, none twice.
    again = await finished(client, admin, await upload(client, admin, entity, file.content(corrected=True)))
    assert (again["status"], again["created"], again["updated"], again["failed"]) == ("succeeded", bad, ROWS - bad, 0)
    assert await count(client, admin, entity) == ROWS
    assert await row_errors(client, admin, again["id"]) == []


async def test_a_dry_run_and_a_refused_all_or_nothing_import_write_nothing(client, actors):
    admin = await actors.make("admin")
    bad = len(CUSTOMERS.expected)
    # Dry run: the same checks through the services, the same report, nothing written.
    response = await upload(client, admin, "customers", CUSTOMERS.content(), mode="valid_rows_only", dry_run=True)
    dry = await finished(client, admin, response)
    assert (dry["status"], dry["dry_run"], dry["rows_done"]) == ("succeeded", True, ROWS)
    assert (dry["created"], dry["updated"], dry["failed"]) == (ROWS - bad, 0, bad)
    errors = await row_errors(client, admin, dry["id"])
    assert {(int(e["row"]), e["column"], e["value"]) for e in errors} == CUSTOMERS.expected
    # all_or_nothing: one bad row and nothing is written, the report still complete.
    refused = await finished(client, admin, await upload(client, admin, "customers", CUSTOMERS.content()))
    assert (refused["status"], refused["created"], refused["failed"]) == ("failed", ROWS - bad, bad)
    assert len(await row_errors(client, admin, refused["id"])) == bad
    assert await count(client, admin, "customers") == 0


async def test_reimporting_a_file_changes_the_records_and_not_their_number(client, actors):
    admin = await actors.make("admin")
    await finished(client, admin, await upload(client, admin, "customers", CUSTOMERS.content(corrected=True)))
    changed = await finished(
        client, admin, await upload(client, admin, "customers", CUSTOMERS.content(corrected=True, change={"行业": "金融"}))
    )
    assert (changed["created"], changed["updated"]) == (0, ROWS)
    assert await count(client, admin, "customers") == ROWS
    found = (await client.get("/api/v1/customers", params={"q": "客户7号"}, headers=admin.headers)).json()["items"]
    assert [(c["industry"], c["external_id"], c["address"]) for c in found] == [("finance", "KH-EXT-7", "上海市")]


async def test_chinese_labels_and_formula_leading_text_arrive_as_values(client, actors):
    admin = await actors.make("admin")
    await finished(client, admin, await upload(client, admin, "customers", CUSTOMERS.content(), mode="valid_rows_only"))
    [formula] = (await client.get("/api/v1/customers", params={"q": "HYPERLINK"}, headers=admin.headers)).json()["items"]
    assert formula["name"] == '=HYPERLINK("http://example.com")'  # kept as the text it is
    assert (formula["region"], formula["level"], formula["external_id"]) == ("shanghai", "major", "KH-EXT-600")
    export = await client.get("/api/v1/customers/export", params={"q": "HYPERLINK"}, headers=admin.headers)
    assert "'=HYPERLINK" in export.content.decode("utf-8-sig")  # and exported so a spreadsheet shows it, not runs it


async def test_the_customer_services_rules_audit_and_events_apply_to_each_row(client, actors):
    admin = await actors.make("admin")
    rows = [["name", "external_id"], ["导入客户甲", "A-1"], ["导入客户乙", "A-2"]]
    report = await finished(client, admin, await upload(client, admin, "customers", ("c.csv", csv_bytes(rows), "text/csv")))
    assert report["created"] == 2
    events = (await client.get("/api/v1/audit-events", params={"entity_type": "customer"}, headers=admin.headers)).json()
    assert sorted((e["action"], e["changes"]["name"]["after"]) for e in events["items"]) == [
        ("create", "导入客户乙"),
        ("create", "导入客户甲"),
    ]
    for customer in (await client.get(LISTS["customers"], headers=admin.headers)).json()["items"]:
        path = f"{LISTS['customers']}/{customer['id']}/ownership-history"
        history = (await client.get(path, headers=admin.headers)).json()["items"]
        assert [(change["action"], change["to_user_id"]) for change in history] == [("create", admin.id)]


async def test_a_batch_of_imported_customers_reads_audits_publishes_and_syncs_as_one_created_by_hand(app, client, actors):
    """More than a few new rows take the set-based create, which writes no ORM object: each customer must still come
    out as a POST makes one."""
    admin = await actors.make("admin")
    device = Device(admin)
    await device.sync(client)
    body = {"name": "手工录入客户", "phone": "021-62340000", "email": "hand@example.cn", "tags": ["重点", "华东"]}
    by_hand = await client.post(LISTS["customers"], json=body, headers=admin.headers)
    assert by_hand.status_code == 201, by_hand.text
    hand = by_hand.json()
    rows = [["name", "phone", "email", "标签"]]
    rows += [[f"批量导入客户{n}", f"021-6234{n:04d}", f"batch{n}@example.cn", "重点；华东"] for n in range(1, 7)]
    report = await finished(client, admin, await upload(client, admin, "customers", ("c.csv", csv_bytes(rows), "text/csv")))
    assert report["created"] == 6, report

    listed = (await client.get(LISTS["customers"], params={"limit": 100}, headers=admin.headers)).json()["items"]
    imported = sorted((c for c in listed if c["name"].startswith("批量导入客户")), key=lambda c: c["name"])
    assert [c["phone_e164"] for c in imported] == [f"+86216234{n:04d}" for n in range(1, 7)]
    published = {event.entity_id: event.payload for event in await outbox(app, "customer.created")}
    audited = (
        await client.get("/api/v1/audit-events", params={"entity_type": "customer", "limit": 100}, headers=admin.headers)
    ).json()
    created = {event["entity_id"]: event["changes"] for event in audited["items"] if event["action"] == "create"}
    for customer in imported:
        read = (await client.get(f"{LISTS['customers']}/{customer['id']}", headers=admin.headers)).json()
        assert published[str(customer["id"])] == {k: v for k, v in read.items() if k != "allowed_actions"}
        assert (read["tags"], read["owner_name"], read["created_by_name"], read["version"]) == (
            hand["tags"],
            hand["owner_name"],
            hand["created_by_name"],
            hand["version"],
        )
        changes = created[str(customer["id"])]
        assert changes.keys() == created[str(hand["id"])].keys()
        assert (changes["code"]["after"], changes["tags"]["after"]) == (read["code"], ["华东", "重点"])
        history = (await client.get(f"{LISTS['customers']}/{customer['id']}/ownership-history", headers=admin.headers)).json()
        assert [(change["action"], change["to_user_id"]) for change in history["items"]] == [("create", admin.id)]
    await device.sync(client)
    assert device.ids("customers") == {hand["id"], *(c["id"] for c in imported)}


async def test_rows_refused_for_their_own_values_leave_the_rest_of_the_batch_to_one_insert(app, client, actors):
    """A bad region or phone names its row: the chunk's other rows are written together at the second try, not in
    ever smaller batches."""
    admin = await actors.make("admin")
    rows = [["客户名称", "地区", "电话"]] + [[f"整批客户{n}号", "上海", f"021-6236{n:04d}"] for n in range(40)]
    rows[6][1] = "火星"
    rows[21][2] = "12"
    rows[33][1:] = ["火星", "12"]
    with count_statements(app.state.db.engine) as statements:
        response = await upload(client, admin, "customers", ("c.csv", csv_bytes(rows), CSV), mode="valid_rows_only")
    report = await finished(client, admin, response)
    assert (report["created"], report["failed"]) == (37, 3)
    errors = await row_errors(client, admin, report["id"])
    assert sorted((int(e["row"]), e["column"]) for e in errors) == [(7, "地区"), (22, "电话"), (34, "地区"), (34, "电话")]
    assert len([s for s in statements if s.lstrip().startswith("INSERT INTO customer_ownership_changes")]) == 1
    assert await count(client, admin, "customers") == 37


async def test_anonymous_401_wrong_role_403_and_another_users_import_404(client, actors):
    file = ("c.csv", csv_bytes([["name"], ["甲公司"]]), "text/csv")
    assert_problem(await client.post(IMPORTS, data={"entity": "customers"}, files={"file": file}), 401)
    marketer = await actors.make("marketer")
    assert_problem(await upload(client, marketer, "customers", file), 403, "auth.missing_permission")
    manager = await actors.make("account_manager")
    assert_problem(await upload(client, manager, "products", file), 403, "auth.missing_permission")
    report = await finished(client, manager, await upload(client, manager, "customers", file))
    other = await actors.make("account_manager")
    assert_problem(await client.get(f"{IMPORTS}/{report['id']}", headers=other.headers), 404, "import.not_found")
    assert_problem(await client.get(f"{IMPORTS}/{report['id']}/errors", headers=other.headers), 404, "import.not_found")
    assert (await client.get(f"{IMPORTS}/{report['id']}", headers=manager.headers)).json()["status"] == "succeeded"


async def test_files_that_cannot_be_imported_are_422_and_write_nothing(client, actors):
    admin = await actors.make("admin")
    cases = [
        (("c.csv", csv_bytes([["name", "colour"], ["甲", "red"]]), "text/csv"), "customer_import.unknown_columns"),
        (("c.csv", csv_bytes([["region"], ["shanghai"]]), "text/csv"), "customer_import.no_name_column"),
        (("c.txt", b"name\n", "text/plain"), "customer_import.unsupported_format"),
        (("c.xlsx", b"not a zip", "application/octet-stream"), "customer_import.unreadable"),
    ]
    for file, code in cases:
        assert_problem(await upload(client, admin, "customers", file), 422, code)
    assert_problem(await upload(client, admin, "opportunities", ("o.csv", csv_bytes([["summary"], ["x"]]), "text/csv")), 422)
    assert await count(client, admin, "customers") == 0


async def test_a_large_file_is_queued_and_a_runner_completes_it_with_progress(client, actors, app, monkeypatch):
    monkeypatch.setattr(app.state.settings, "import_inline_max_rows", 100)
    monkeypatch.setattr(app.state.settings, "import_chunk_rows", 250)
    admin = await actors.make("admin")
    response = await upload(client, admin, "customers", CUSTOMERS.content(), mode="valid_rows_only")
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued" and response.json()["rows_total"] is None
    location = response.headers["Location"]
    done = await _poll(client, admin, location)
    bad = len(CUSTOMERS.expected)
    assert (done["status"], done["rows_total"], done["rows_done"]) == ("succeeded", ROWS, ROWS)
    assert (done["created"], done["updated"], done["failed"]) == (ROWS - bad, 0, bad)
    assert done["started_at"] is not None and done["finished_at"] is not None
    errors = await row_errors(client, admin, done["id"])
    assert {(int(e["row"]), e["column"], e["value"]) for e in errors} == CUSTOMERS.expected
    assert await count(client, admin, "customers") == ROWS - bad


async def test_a_queued_all_or_nothing_import_with_a_bad_row_writes_nothing(client, actors, app, monkeypatch):
    monkeypatch.setattr(app.state.settings, "import_inline_max_rows", 100)
    admin = await actors.make("admin")
    response = await upload(client, admin, "leads", LEADS.content())
    assert response.status_code == 202, response.text
    done = await _poll(client, admin, response.headers["Location"])
    assert (done["status"], done["rows_done"], done["failed"]) == ("failed", ROWS, len(LEADS.expected))
    assert await count(client, admin, "leads") == 0
    assert row_number(10) in {int(e["row"]) for e in await row_errors(client, admin, done["id"])}


async def _poll(client: httpx.AsyncClient, actor: Actor, location: str) -> dict[str, Any]:
    """The import once it has finished: the worker that queued it runs it after answering."""
    body: dict[str, Any] = {}

    async def finished() -> bool:
        body.update((await client.get(location, headers=actor.headers)).json())
        assert body["rows_done"] <= ROWS
        return body["status"] in ("succeeded", "failed")

    await _until(finished, 120, "the queued import to finish")
    return body


async def test_a_nul_in_a_cell_is_a_row_error_the_report_can_show(client, actors):
    admin = await actors.make("admin")
    file = ("c.csv", "name,region\nAcme\x00Co,shanghai\n甲公司,shanghai\n".encode(), "text/csv")
    report = await finished(client, admin, await upload(client, admin, "customers", file, mode="valid_rows_only"))
    assert (report["created"], report["failed"]) == (1, 1)
    [error] = await row_errors(client, admin, report["id"])
    assert (error["row"], error["column"], error["value"]) == ("2", "name", "Acme\\0Co")


async def test_every_entitys_file_is_bounded_before_its_rows_are_read(client, actors, app, monkeypatch):
    monkeypatch.setattr(app.state.settings, "import_max_rows", 5)
    admin = await actors.make("admin")
    wide = [[f"c{n}" for n in range(65)], ["x"] * 65]
    cases = [
        ("leads", ("l.csv", csv_bytes(wide), "text/csv"), "lead_import.too_many_columns"),
        (
            "contacts",
            ("c.csv", b"name,gender,title,office_phone,customer_code\n" + b"\n" * 20, CSV),
            "contact_import.too_many_rows",
        ),
        (
            "opportunities",
            ("o.csv", csv_bytes([FILES["opportunities"].header, ["x" * 40_000]]), "text/csv"),
            "opportunity_import.cell_too_long",
        ),
        ("products", ("p.xlsx", xlsx_bytes([["name"], *[[f"p{n}"] for n in range(20)]]), XLSX), "product_import.too_many_rows"),
    ]
    for entity, file, code in cases:
        assert_problem(await upload(client, admin, entity, file), 422, code)
    assert await count(client, admin, "leads") == 0


async def test_a_lead_file_names_custom_fields_by_key_or_label(client, actors):
    admin = await actors.make("admin")
    await define_field(client, admin, "lead", "budget", "number", label="预算")
    await define_field(client, admin, "lead", "channel", label="渠道")
    header = ["公司名称", "联系人", "电话", "来源", "预算", "custom_fields.channel"]
    rows = [
        ["预算公司", "张三", "13700000001", "官网", "12000", "展会"],
        ["坏预算公司", "李四", "13700000002", "官网", "很多", ""],
    ]

    report = await finished(
        client, admin, await upload(client, admin, "leads", ("l.csv", csv_bytes([header, *rows]), CSV), mode="valid_rows_only")
    )

    assert (report["created"], report["failed"]) == (1, 1)
    [error] = await row_errors(client, admin, report["id"])
    assert (error["row"], error["column"], error["value"]) == ("3", "预算", "很多")
    leads = (await client.get(LISTS["leads"], headers=admin.headers)).json()["items"]
    assert [lead["custom_fields"] for lead in leads] == [{"budget": 12000, "channel": "展会"}]
