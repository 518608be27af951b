"""Custom fields in the customer export (a column each, headed by its label) and import (by key or label)."""

import csv
import io

from openpyxl import load_workbook

from tests.custom_fields.factories import define_field
from tests.customers.factories import BASE, import_file, make_customer
from tests.factories import assert_problem


def csv_file(*rows: list[object]) -> dict[str, tuple[str, bytes, str]]:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return {"file": ("customers.csv", buffer.getvalue().encode("utf-8"), "text/csv")}


async def fields(client, admin):
    await define_field(client, admin, "customer", "erp_no", label="ERP 编号", unique=True, sort_order=1)
    await define_field(client, admin, "customer", "founded", "date", label="成立日期", sort_order=2)
    await define_field(
        client, admin, "customer", "markets", "multi_choice", label="市场", dictionary_category="region", sort_order=3
    )
    await define_field(client, admin, "customer", "listed", "boolean", label="上市", required=True, sort_order=4)


async def test_export_has_a_column_per_active_field_by_label_and_filters_by_cf(client, actors):
    admin, manager = await actors.make("admin"), await actors.make("account_manager")
    await fields(client, admin)
    await define_field(client, admin, "customer", "old", label="旧字段")
    await make_customer(
        client,
        manager,
        name="甲",
        custom_fields={"erp_no": "E-1", "markets": ["shanghai", "beijing"], "listed": True, "old": "x"},
    )
    await make_customer(client, manager, name="乙", custom_fields={"erp_no": "E-2", "founded": "2001-02-03", "listed": False})
    await client.post("/api/v1/custom-fields/customer/old/deactivate", headers=admin.headers)
    response = await client.get(f"{BASE}/export", params={"cf.listed": "true"}, headers=manager.headers)
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [row["name"] for row in rows] == ["甲"]
    assert "custom_fields" not in rows[0] and "旧字段" not in rows[0]
    assert {k: rows[0][k] for k in ("ERP 编号", "成立日期", "市场", "上市")} == {
        "ERP 编号": "E-1",
        "成立日期": "",
        "市场": "shanghai;beijing",
        "上市": "true",
    }
    xlsx = await client.get(f"{BASE}/export", params={"format": "xlsx", "cf.erp_no": "E-2"}, headers=manager.headers)
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    header, values = [c.value for c in sheet[1]], [c.value for c in sheet[2]]
    assert dict(zip(header, values, strict=True))["成立日期"] == "2001-02-03"


async def test_an_exported_file_with_custom_fields_imports_again(client, actors):
    admin, a, b = await actors.make("admin"), await actors.make("account_manager"), await actors.make("account_manager")
    await fields(client, admin)
    original = await make_customer(client, a, name="甲", custom_fields={"erp_no": "E-1", "markets": ["shanghai"], "listed": True})
    exported = await client.get(f"{BASE}/export", headers=a.headers)
    await client.delete(f"{BASE}/{original['id']}", headers=admin.headers)  # frees the unique ERP number
    response = await import_file(client, b, {"file": ("customers.csv", exported.content, "text/csv")})
    assert response.status_code == 200, response.text
    [copy] = (await client.get(BASE, headers=b.headers)).json()["items"]
    assert copy["custom_fields"] == original["custom_fields"]


async def test_import_reads_custom_fields_by_key_or_label_and_checks_them_like_a_create(client, actors):
    admin, manager = await actors.make("admin"), await actors.make("account_manager")
    await fields(client, admin)
    await make_customer(client, manager, name="已有", custom_fields={"erp_no": "E-0", "listed": True})
    rows = [
        ["客户名称", "erp_no", "成立日期", "市场", "上市"],
        ["甲", "E-1", "2001-02-03", "上海；北京", "是"],
        ["乙", "E-0", "", "", "no"],  # the ERP number is taken
        ["丙", "E-1", "", "", "yes"],  # repeats row 2
        ["丁", "E-4", "2001-02-30", "火星", ""],  # a bad date, an unknown market, the required flag missing
    ]
    report = (await import_file(client, manager, csv_file(*rows), mode="valid_rows_only")).json()
    assert (report["rows"], report["valid"], report["created"]) == (4, 1, 1)
    assert {(e["row"], e["field"]) for e in report["errors"]} == {
        (3, "custom_fields.erp_no"),
        (4, "custom_fields.erp_no"),
        (5, "custom_fields.founded"),
        (5, "custom_fields.markets"),
        (5, "custom_fields.listed"),
    }
    found = (await client.get(BASE, params={"cf.erp_no": "E-1"}, headers=manager.headers)).json()["items"]
    assert [(c["name"], c["custom_fields"]) for c in found] == [
        ("甲", {"erp_no": "E-1", "founded": "2001-02-03", "markets": ["shanghai", "beijing"], "listed": True})
    ]


async def test_a_column_naming_no_field_is_refused(client, actors):
    manager = await actors.make("account_manager")
    response = await import_file(client, manager, csv_file(["客户名称", "ERP 编号"], ["甲", "E-1"]))
    assert "ERP 编号" in assert_problem(response, 422, "customer_import.unknown_columns")["detail"]


async def test_a_label_that_names_a_customer_field_heads_its_column_by_key(client, actors):
    """地址 is the customer's address column: a custom field labelled so exports as `custom_fields.<key>`, and that
    header imports back into the field, while 地址 stays the address."""
    admin, a, b = await actors.make("admin"), await actors.make("account_manager"), await actors.make("account_manager")
    await define_field(client, admin, "customer", "site_address", label="地址")
    original = await make_customer(client, a, address="上海市浦东新区", custom_fields={"site_address": "苏州工厂"})
    exported = await client.get(f"{BASE}/export", headers=a.headers)
    [row] = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert (row["address"], row["custom_fields.site_address"]) == ("上海市浦东新区", "苏州工厂")
    # The duplicate guard refuses a second live customer of one name: the copy replaces the original.
    assert (await client.delete(f"{BASE}/{original['id']}", headers=a.headers)).status_code == 204
    response = await import_file(client, b, {"file": ("customers.csv", exported.content, "text/csv")})
    assert response.status_code == 200, response.text
    [copy] = (await client.get(BASE, headers=b.headers)).json()["items"]
    assert (copy["address"], copy["custom_fields"]) == (original["address"], original["custom_fields"])
