"""Export of the filtered customer list as CSV and XLSX, and the round trip back through import."""

import csv
import io

from openpyxl import load_workbook

from crm_api.auth.principal import principal_for_user
from crm_api.core import files
from crm_api.customers import exports
from crm_api.customers.schemas import CustomerSearch
from tests.custom_fields.factories import define_field
from tests.customers.factories import BASE, customer_names, import_file, make_customer, two_managers
from tests.factories import assert_problem, count_statements


def rows_of(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


async def test_anonymous_401_wrong_role_403_bad_format_422(client, actors):
    marketer = await actors.make("marketer")
    manager = await actors.make("account_manager")
    assert_problem(await client.get(f"{BASE}/export"), 401)
    assert_problem(await client.get(f"{BASE}/export", headers=marketer.headers), 403, "auth.missing_permission")
    assert_problem(await client.get(f"{BASE}/export", params={"format": "pdf"}, headers=manager.headers), 422)


async def test_csv_export_is_a_dated_attachment_of_the_callers_customers_only(client, actors, frozen_clock):
    a, b = await two_managers(actors)
    await make_customer(client, a, name="甲的客户", tags=["VIP", "华东"], phone="021-6234 5678")
    await make_customer(client, b, name="乙的客户")
    response = await client.get(f"{BASE}/export", params={"format": "csv"}, headers=a.headers)
    assert response.headers["content-disposition"] == 'attachment; filename="customers-2026-06-15.csv"'
    assert response.headers["content-type"].startswith("text/csv")
    [row] = rows_of(response)
    assert row["name"] == "甲的客户" and row["code"] == "KH00000001" and row["tags"] == "VIP;华东"
    assert row["owner_id"] == str(a.id) and row["phone"] == "021-6234 5678"


async def test_export_applies_the_list_filters(client, actors):
    manager = await actors.make("account_manager")
    await make_customer(client, manager, name="上海一号", region="shanghai", level="major", tags=["VIP"])
    await make_customer(client, manager, name="上海二号", region="shanghai", level="regular")
    await make_customer(client, manager, name="江苏一号", region="jiangsu", level="major")
    cases = [
        ({"region": "shanghai"}, {"上海一号", "上海二号"}),
        ({"level": "major"}, {"上海一号", "江苏一号"}),
        ({"tag": "VIP"}, {"上海一号"}),
        ({"q": "江苏"}, {"江苏一号"}),
        ({"owner_id": manager.id + 1}, set()),
    ]
    for params, expected in cases:
        response = await client.get(f"{BASE}/export", params=params, headers=manager.headers)
        assert {row["name"] for row in rows_of(response)} == expected, params


async def test_export_reads_in_keyset_batches_and_yields_chunks(app, client, actors, session, monkeypatch):
    manager = await actors.make("account_manager")
    monkeypatch.setattr(exports, "BATCH", 2)
    monkeypatch.setattr(files, "CHUNK_BYTES", 10)
    for i in range(5):
        await make_customer(client, manager, name=f"客户{i}")
    principal, _ = await principal_for_user(session, manager.id)
    export = await exports.export_customers(app.state.db, principal, CustomerSearch(), [], "csv")
    with count_statements(app.state.db.engine) as statements:
        chunks = [chunk async for chunk in export.body]
    # 5 rows in batches of 2: three bounded reads of customers (each with its tags), never one for all.
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT") and "FROM customers" in s]
    assert len(reads) == 3 and all("LIMIT" in s for s in reads)
    assert len(chunks) > 1
    names = [row["name"] for row in csv.DictReader(io.StringIO(b"".join(chunks).decode("utf-8-sig")))]
    assert names == [f"客户{i}" for i in range(5)]


async def test_xlsx_export(client, actors):
    manager = await actors.make("account_manager")
    await make_customer(client, manager, name="上海华信科技有限公司", satisfaction=4)
    response = await client.get(f"{BASE}/export", params={"format": "xlsx"}, headers=manager.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"].endswith('.xlsx"')
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).active
    header, row = list(sheet.iter_rows(values_only=True))
    record = dict(zip(header, row, strict=True))
    assert record["name"] == "上海华信科技有限公司" and record["satisfaction"] == 4


async def retire(client, owner, customer) -> None:
    """Soft-delete the exported customer: while it lives, the duplicate guard refuses its copy (test_import.py)."""
    assert (await client.delete(f"{BASE}/{customer['id']}", headers=owner.headers)).status_code == 204


async def test_an_exported_csv_imports_again(client, actors):
    a, b = await two_managers(actors)
    admin = await actors.make("admin")
    await define_field(client, admin, "customer", "erp_no", label="ERP 编号")
    original = await make_customer(
        client,
        a,
        email="info@huaxin.cn",
        tags=["VIP", "华东"],
        satisfaction=4,
        registered_capital="5000000.5",
        custom_fields={"erp_no": "E-1"},
    )
    exported = await client.get(f"{BASE}/export", headers=a.headers)
    await retire(client, a, original)
    response = await import_file(client, b, {"file": ("customers.csv", exported.content, "text/csv")})
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1
    [copy] = (await client.get(BASE, headers=b.headers)).json()["items"]
    same = [
        "name",
        "region",
        "level",
        "phone",
        "phone_e164",
        "email",
        "tags",
        "satisfaction",
        "registered_capital",
        "custom_fields",
    ]
    assert {k: copy[k] for k in same} == {k: original[k] for k in same}
    assert copy["owner_id"] == b.id and copy["code"] != original["code"]
    assert await customer_names(client, a, deleted="true") == [original["name"]]


# Text a spreadsheet would run as a formula (OWASP CSV injection), as a customer could have typed it.
FORMULAS = {
    "name": '=HYPERLINK("http://evil.example","open")',
    "address": "@SUM(1+1)*cmd|' /C calc'!A0",
    "phone": "+86 138 0000 0001",
}


async def test_formula_text_is_exported_as_text_and_imports_back_unchanged(client, actors):
    a, b = await two_managers(actors)
    original = await make_customer(client, a, **FORMULAS, tags=["-1", "ok"])
    [row] = rows_of(await client.get(f"{BASE}/export", params={"format": "csv"}, headers=a.headers))
    assert {column: row[column] for column in FORMULAS} == {column: "'" + text for column, text in FORMULAS.items()}
    assert row["tags"] == "'-1;ok"

    response = await client.get(f"{BASE}/export", params={"format": "xlsx"}, headers=a.headers)
    sheet = load_workbook(io.BytesIO(response.content)).active
    header = [cell.value for cell in sheet[1]]
    cells = {name: sheet.cell(row=2, column=header.index(name) + 1) for name in FORMULAS}
    for name, cell in cells.items():
        assert cell.data_type == "s" and cell.value == "'" + FORMULAS[name], name

    await retire(client, a, original)
    imported = await import_file(client, b, {"file": ("customers.xlsx", response.content, "application/octet-stream")})
    assert imported.status_code == 200, imported.text
    [copy] = (await client.get(BASE, headers=b.headers)).json()["items"]
    assert {k: copy[k] for k in [*FORMULAS, "tags"]} == {k: original[k] for k in [*FORMULAS, "tags"]}
