"""Import of customers from CSV and XLSX files."""

import io

import pytest

from crm_api.core.errors import Forbidden
from crm_api.core.permissions import Principal, Scope
from crm_api.customers import imports
from tests.customers.factories import (
    BASE,
    audit_of,
    csv_file,
    customer_names,
    import_file,
    make_customer,
    xlsx_file,
)
from tests.factories import assert_problem

HEADER = ["name", "region", "level", "phone", "tags"]
GOOD = ["上海华信科技有限公司", "shanghai", "major", "021-6234 5678", "VIP;华东"]
# Row 3 of the file (the header is row 1): an unknown region and a phone that is no phone.
BAD_ROW_3 = ["杭州西子电子商务有限公司", "atlantis", "regular", "12", ""]
THIRD = ["南京金陵医药有限公司", "jiangsu", "partner", "025-84561234", ""]


async def test_anonymous_401_and_wrong_role_403(client, actors):
    marketer = await actors.make("marketer")
    assert_problem(await client.post(f"{BASE}/import", files=csv_file(HEADER, GOOD)), 401)
    assert_problem(await import_file(client, marketer, csv_file(HEADER, GOOD)), 403, "auth.missing_permission")


async def test_import_creates_customers_owned_by_the_importer(client, actors):
    manager = await actors.make("account_manager")
    response = await import_file(client, manager, csv_file(HEADER, GOOD, THIRD))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "dry_run": False,
        "mode": "all_or_nothing",
        "rows": 2,
        "valid": 2,
        "invalid": 0,
        "created": 2,
        "errors": [],
    }
    items = (await client.get(BASE, headers=manager.headers)).json()["items"]
    by_name = {item["name"]: item for item in items}
    assert set(by_name) == {GOOD[0], THIRD[0]}
    huaxin = by_name[GOOD[0]]
    assert huaxin["owner_id"] == manager.id and huaxin["created_by_id"] == manager.id and huaxin["status"] == "active"
    assert huaxin["phone_e164"] == "+862162345678" and huaxin["tags"] == ["VIP", "华东"]
    assert sorted(item["code"] for item in items) == ["KH00000001", "KH00000002"]
    # The counter moved by the import's rows: the next create continues after them.
    assert (await make_customer(client, manager, name="后来的客户"))["code"] == "KH00000003"


async def test_each_customer_is_audited_like_a_create_and_the_import_once_with_its_counts(client, actors):
    manager = await actors.make("account_manager")
    admin = await actors.make("admin")
    await import_file(client, manager, csv_file(HEADER, GOOD, THIRD))
    response = await client.get("/api/v1/audit-events", params={"entity_type": "import"}, headers=admin.headers)
    [event] = response.json()["items"]
    assert event["action"] == "customers" and event["actor_id"] == manager.id
    assert {k: event["changes"][k]["after"] for k in ("rows_done", "created", "updated", "failed", "kept")} == {
        "rows_done": 2,
        "created": 2,
        "updated": 0,
        "failed": 0,
        "kept": True,
    }
    for customer in (await client.get(BASE, headers=manager.headers)).json()["items"]:
        [created] = await audit_of(client, admin, "customer", customer["id"])
        assert created["action"] == "create" and created["changes"]["code"]["after"] == customer["code"]


async def test_all_or_nothing_refuses_the_file_and_reports_row_3(client, actors):
    manager = await actors.make("account_manager")
    response = await import_file(client, manager, csv_file(HEADER, GOOD, BAD_ROW_3, THIRD))
    problem = assert_problem(response, 422, "customer_import.invalid_rows")
    report = problem["report"]
    assert (report["rows"], report["valid"], report["invalid"], report["created"]) == (3, 2, 1, 0)
    assert {(e["row"], e["field"]) for e in report["errors"]} == {(3, "region"), (3, "phone")}
    assert await customer_names(client, manager) == []


async def test_valid_rows_only_writes_the_rest_and_reports_row_3(client, actors):
    manager = await actors.make("account_manager")
    response = await import_file(client, manager, csv_file(HEADER, GOOD, BAD_ROW_3, THIRD), mode="valid_rows_only")
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["rows"], report["valid"], report["invalid"], report["created"]) == (3, 2, 1, 2)
    assert [e["row"] for e in report["errors"]] == [3, 3]
    assert sorted(await customer_names(client, manager)) == sorted([GOOD[0], THIRD[0]])


async def test_dry_run_writes_nothing_in_either_mode(client, actors):
    manager = await actors.make("account_manager")
    admin = await actors.make("admin")
    for mode in ("all_or_nothing", "valid_rows_only"):
        response = await import_file(client, manager, csv_file(HEADER, GOOD, BAD_ROW_3), dry_run="true", mode=mode)
        assert response.status_code == 200, response.text
        report = response.json()
        assert report["dry_run"] is True and report["created"] == 0
        assert (report["valid"], report["invalid"]) == (1, 1)
    assert await customer_names(client, manager) == []
    assert (await client.get("/api/v1/audit-events", params={"entity_type": "customer"}, headers=admin.headers)).json()[
        "items"
    ] == []


async def test_chinese_headers_and_labels_in_xlsx(client, actors):
    manager = await actors.make("account_manager")
    rows = [
        ["客户名称", "地区", "客户等级", "电话", "地址", "网址", "客户满意度"],
        ["深圳华为技术有限公司", "广东", "大客户", 13801380001, "深圳市龙岗区", "https://example.cn", 4],
    ]
    response = await import_file(client, manager, xlsx_file(*rows))
    assert response.status_code == 200, response.text
    [customer] = (await client.get(BASE, headers=manager.headers)).json()["items"]
    assert (customer["name"], customer["region"], customer["level"]) == ("深圳华为技术有限公司", "guangdong", "major")
    assert customer["phone_e164"] == "+8613801380001" and customer["satisfaction"] == 4
    assert customer["address"] == "深圳市龙岗区" and customer["website"] == "https://example.cn"


async def test_schema_errors_are_reported_per_row_like_a_create(client, actors):
    manager = await actors.make("account_manager")
    rows = [["name", "satisfaction", "email"], ["A", "9", "not-an-email"], ["", "3", ""]]
    report = (await import_file(client, manager, csv_file(*rows), mode="valid_rows_only")).json()
    assert (report["rows"], report["invalid"]) == (2, 2)
    assert {(e["row"], e["field"]) for e in report["errors"]} == {(2, "satisfaction"), (2, "email"), (3, "name")}


async def test_blank_rows_are_skipped_but_row_numbers_stay_those_of_the_file(client, actors):
    manager = await actors.make("account_manager")
    report = (
        await import_file(client, manager, csv_file(HEADER, GOOD, ["", "", "", "", ""], BAD_ROW_3), mode="valid_rows_only")
    ).json()
    assert report["rows"] == 2
    assert {e["row"] for e in report["errors"]} == {4}


async def test_unknown_columns_unsupported_files_and_no_name_are_422(client, actors):
    manager = await actors.make("account_manager")
    assert_problem(
        await import_file(client, manager, csv_file(["name", "colour"], ["A", "red"])), 422, "customer_import.unknown_columns"
    )
    assert_problem(await import_file(client, manager, csv_file(["region"], ["shanghai"])), 422, "customer_import.no_name_column")
    assert_problem(
        await import_file(client, manager, csv_file(HEADER, GOOD, name="customers.txt")),
        422,
        "customer_import.unsupported_format",
    )
    assert_problem(
        await import_file(client, manager, {"file": ("c.xlsx", b"not a zip", "application/octet-stream")}),
        422,
        "customer_import.unreadable",
    )
    assert await customer_names(client, manager) == []


@pytest.mark.parametrize(
    ("limit", "value", "status", "code"),
    [("MAX_IMPORT_BYTES", 100, 413, "upload.too_large"), ("MAX_IMPORT_ROWS", 2, 422, "customer_import.too_many_rows")],
)
async def test_oversized_files_are_refused_and_write_nothing(client, actors, monkeypatch, limit, value, status, code):
    manager = await actors.make("account_manager")
    monkeypatch.setattr(imports, limit, value)
    rows = [HEADER] + [[f"客户{i}", "shanghai", "major", "", ""] for i in range(20)]
    assert_problem(await import_file(client, manager, csv_file(*rows), mode="valid_rows_only"), status, code)
    assert await customer_names(client, manager) == []


async def test_api_keys_cannot_import(session, settings):
    """Who imports owns the customers; an integrator key is nobody."""
    key = Principal(user_id=None, name="erp", team_id=None, roles=(), permissions={"customers:write": Scope.ALL}, api_key_id=1)
    with pytest.raises(Forbidden):
        await imports.import_customers(
            session, settings, key, upload=io.BytesIO(b""), filename="c.csv", size=0, dry_run=False, mode="all_or_nothing"
        )


async def test_a_csv_saved_by_chinese_excel_in_gb18030_imports(client, actors):
    manager = await actors.make("account_manager")
    content = "客户名称,地区,电话\r\n上海华信科技有限公司,上海,021-62345678\r\n".encode("gb18030")
    response = await import_file(client, manager, {"file": ("客户.csv", content, "text/csv")})
    assert response.status_code == 200, response.text
    [customer] = (await client.get(BASE, headers=manager.headers)).json()["items"]
    assert (customer["name"], customer["region"]) == ("上海华信科技有限公司", "shanghai")


async def test_a_path_that_is_neither_a_tool_nor_an_id_is_still_422(client, actors):
    manager = await actors.make("account_manager")
    assert_problem(await client.get(f"{BASE}/not-a-number", headers=manager.headers), 422, "validation_failed")
