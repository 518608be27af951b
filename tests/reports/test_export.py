import csv
import io
from decimal import Decimal

import openpyxl
import pypdf
import pytest

from crm_api.read.reports import export, repository
from tests.factories import assert_problem
from tests.reports.factories import report_world

BASE = "/api/v1/reports"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _json_and(client, headers, path, export):
    as_json = (await client.get(path, headers=headers)).json()
    separator = "&" if "?" in path else "?"
    response = await client.get(f"{path}{separator}format={export}", headers=headers)
    assert response.status_code == 200, response.text
    return as_json, response


def _json_table(body):
    """The JSON rows as the exports print them: labels, then each row's cells as text, then the totals."""
    keys = [column["key"] for column in body["columns"]]
    table = [[column["label"] for column in body["columns"]]]
    table += [["" if row[key] is None else str(row[key]) for key in keys] for row in body["rows"]]
    if body["totals"]:
        totals = ["" if body["totals"].get(key) is None else str(body["totals"][key]) for key in keys]
        table.append(["Total", *totals[1:]] if not totals[0] else totals)
    return table


async def test_csv_is_utf8_with_bom_and_holds_the_json_figures(client, app, actors):
    world = await report_world(app, actors)
    body, response = await _json_and(client, world.executive.headers, f"{BASE}/customer-contribution?year=2026", "csv")
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="customer-contribution-2026.csv"'
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows == _json_table(body)
    assert rows[1][1:] == ["上海华通", "Wang.Fang", "1", "200.00"]
    assert rows[-1] == ["Total", "", "", "5", "320.40"]


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
async def test_spreadsheets_hold_every_customer_while_json_holds_a_page(client, app, actors, monkeypatch, file_format):
    monkeypatch.setattr(repository, "STREAM_BATCH", 3)  # so the file is read in more than one batch
    world = await report_world(app, actors)
    path = f"{BASE}/customer-contribution?limit=1"
    page, response = await _json_and(client, world.executive.headers, path, file_format)
    assert len(page["rows"]) == 1 and page["next_cursor"]
    if file_format == "csv":
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    else:
        sheet = openpyxl.load_workbook(io.BytesIO(response.content))["Report"]
        rows = [["" if value is None else str(value) for value in row] for row in sheet.iter_rows(values_only=True)]
    assert [row[1] for row in rows[1:-1]] == ["Acme Co., Ltd.", "上海华通", "上海华通有限公司", "北方贸易"]
    assert rows[-1][0] == "Total" and rows[-1][3] == "8"


async def test_xlsx_opens_with_numbers_as_numbers_and_money_with_two_places(client, app, actors):
    world = await report_world(app, actors)
    body, response = await _json_and(client, world.executive.headers, f"{BASE}/customer-contribution", "xlsx")
    assert response.headers["content-type"] == XLSX
    assert response.headers["content-disposition"] == 'attachment; filename="customer-contribution.xlsx"'
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = workbook["Report"]
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[0] == [column["label"] for column in body["columns"]]
    for row, expected in zip(values[1:], body["rows"], strict=False):
        assert row[1] == expected["customer_name"]
        assert isinstance(row[3], int) and row[3] == expected["order_count"]
        assert isinstance(row[4], int | float)
        assert Decimal(str(row[4])).quantize(Decimal("0.01")) == Decimal(expected["revenue"])
    assert sheet.cell(row=2, column=5).number_format == "#,##0.00"
    assert values[-1][0] == "Total" and Decimal(str(values[-1][4])).quantize(Decimal("0.01")) == Decimal("680.40")
    about = [list(row) for row in workbook["About"].iter_rows(values_only=True)]
    assert about[0][0] == body["title"]


async def test_xlsx_carries_the_forecast_inputs(client, app, actors, frozen_clock):
    world = await report_world(app, actors)
    body, response = await _json_and(client, world.executive.headers, f"{BASE}/revenue-forecast?history=6", "xlsx")
    about = {row[0]: row[1] for row in openpyxl.load_workbook(io.BytesIO(response.content))["About"].iter_rows(values_only=True)}
    facts = {fact["label"]: fact["value"] for fact in body["facts"]}
    assert Decimal(str(about["Slope (per month)"])) == Decimal(facts["Slope (per month)"])
    assert about["Months used"] == 6


async def test_pdf_prints_the_chinese_names_and_the_json_figures(client, app, actors):
    world = await report_world(app, actors)
    body, response = await _json_and(client, world.executive.headers, f"{BASE}/customer-contribution", "pdf")
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == 'attachment; filename="customer-contribution.pdf"'
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(response.content)).pages)
    assert "客户贡献分析" in text
    for row in body["rows"]:
        assert row["customer_name"] in text
        assert f"{Decimal(row['revenue']):,.2f}" in text
    assert "680.40" in text


async def test_pdf_of_composition_shows_labels_and_shares(client, app, actors):
    world = await report_world(app, actors)
    body, response = await _json_and(client, world.supervisor.headers, f"{BASE}/customer-composition?by=level", "pdf")
    assert response.headers["content-disposition"] == 'attachment; filename="customer-composition-level.pdf"'
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(response.content)).pages)
    for row in body["rows"]:
        assert row["label"] in text and row["share"] in text


@pytest.mark.parametrize(
    ("accept", "media_type", "extension"),
    [("text/csv", "text/csv", "csv"), (XLSX, XLSX, "xlsx"), ("application/pdf", "application/pdf", "pdf")],
)
async def test_accept_header_chooses_the_format(client, app, actors, accept, media_type, extension):
    world = await report_world(app, actors)
    headers = world.executive.headers | {"Accept": accept}
    response = await client.get(f"{BASE}/customer-composition?by=credit", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    assert response.headers["content-disposition"].endswith(f'customer-composition-credit.{extension}"')


async def test_format_parameter_wins_over_accept_and_json_is_the_default(client, actors):
    admin = await actors.make("admin")
    headers = admin.headers | {"Accept": "application/pdf"}
    response = await client.get(f"{BASE}/data-quality?format=json", headers=headers)
    assert response.headers["content-type"] == "application/json"
    assert "content-disposition" not in response.headers
    browser = admin.headers | {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    assert (await client.get(f"{BASE}/data-quality", headers=browser)).headers["content-type"] == "application/json"
    assert_problem(await client.get(f"{BASE}/data-quality?format=docx", headers=admin.headers), 422)


async def test_exports_are_refused_without_the_permission(client, actors):
    manager = await actors.make("account_manager")
    response = await client.get(f"{BASE}/customer-contribution?format=csv", headers=manager.headers)
    assert_problem(response, 403, "auth.missing_permission")


async def test_a_pdf_too_long_to_print_is_refused(client, app, actors, monkeypatch):
    world = await report_world(app, actors)
    monkeypatch.setattr(export, "PDF_MAX_ROWS", 3)
    response = await client.get(f"{BASE}/customer-contribution?format=pdf", headers=world.executive.headers)
    assert_problem(response, 422, "report.too_large_for_pdf")
    # The same report as CSV is not limited.
    assert (await client.get(f"{BASE}/customer-contribution?format=csv", headers=world.executive.headers)).status_code == 200


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
async def test_formula_text_in_a_report_is_written_as_text(client, app, actors, file_format):
    world = await report_world(app, actors)
    formula = "=1+2"
    renamed = await client.patch(
        f"/api/v1/customers/{world.customers['acme'].id}", json={"name": formula}, headers=world.east_manager.headers
    )
    assert renamed.status_code == 200, renamed.text
    _, response = await _json_and(client, world.executive.headers, f"{BASE}/customer-contribution", file_format)
    if file_format == "csv":
        names = [row[1] for row in csv.reader(io.StringIO(response.content.decode("utf-8-sig")))]
        assert "'" + formula in names and formula not in names
    else:
        sheet = openpyxl.load_workbook(io.BytesIO(response.content))["Report"]
        [cell] = [cell for cell in sheet["B"] if cell.value == "'" + formula]
        assert cell.data_type == "s"
        assert not any(cell.data_type == "f" for row in sheet.iter_rows() for cell in row)
