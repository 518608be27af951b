import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import openpyxl
import pypdf
import pytest

from crm_api.read.reports import export, repository, service
from tests.factories import assert_problem
from tests.policy_matrix import principal_of
from tests.reports.factories import add_churn_warning, add_customer, add_order, report_world

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


def _sheet_table(content, columns):
    """The Report sheet as text the way the JSON prints it: money and shares with two places, dates as ISO days."""
    sheet = openpyxl.load_workbook(io.BytesIO(content))["Report"]
    two_places = {"money", "percent", "number"}

    def text(value, column_type):
        if value is None:
            return ""
        if column_type in two_places and isinstance(value, int | float):
            return str(Decimal(str(value)).quantize(Decimal("0.01")))
        if column_type == "date" and not isinstance(value, str):
            return value.date().isoformat()
        return str(value)

    rows = list(sheet.iter_rows(values_only=True))
    types = [column["type"] for column in columns]
    return [list(rows[0])] + [[text(value, t) for value, t in zip(row, types, strict=True)] for row in rows[1:]]


def _file_table(response, columns):
    if response.headers["content-type"] == XLSX:
        return _sheet_table(response.content, columns)
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


async def _every_page(client, headers, path, params):
    """The JSON report with the rows of every page, followed two rows at a time."""
    pages = [(await client.get(path, params=params | {"limit": 2}, headers=headers)).json()]
    while pages[-1]["next_cursor"]:
        cursor = {"limit": 2, "cursor": pages[-1]["next_cursor"]}
        pages.append((await client.get(path, params=params | cursor, headers=headers)).json())
    return pages[0] | {"rows": [row for page in pages for row in page["rows"]]}, len(pages)


async def churn_world(app, actors):
    """The report world plus three confirmed churns (two of team South) and an open warning."""
    world = await report_world(app, actors)
    c = world.customers
    async with app.state.db.sessionmaker() as session, session.begin():
        for customer, confirmed, reason in (
            (c["northern"], datetime(2026, 4, 30, 20, tzinfo=UTC), "价格原因"),
            (c["acme"], datetime(2026, 5, 10, 3, tzinfo=UTC), "=HYPERLINK(1)"),
            (c["huatong_south"], datetime(2026, 5, 10, 3, tzinfo=UTC), None),
        ):
            await add_churn_warning(session, customer, confirmed_at=confirmed, reason=reason, last_order=date(2026, 1, 2))
        await add_churn_warning(session, c["huatong"], status="open")
    return world


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
@pytest.mark.parametrize(
    ("path", "params"),
    [("customer-contribution", {}), ("customer-contribution", {"year": 2026}), ("churn", {"owner_name": "a"})],
)
async def test_a_streamed_file_holds_every_row_of_the_json_pages(client, app, actors, monkeypatch, file_format, path, params):
    monkeypatch.setattr(repository, "STREAM_BATCH", 2)  # the file is read from the cursor in several batches
    world = await churn_world(app, actors)
    headers = world.executive.headers
    whole, pages = await _every_page(client, headers, f"{BASE}/{path}", params)
    assert pages > 1 and len(whole["rows"]) >= 3
    response = await client.get(f"{BASE}/{path}", params=params | {"format": file_format, "limit": 1}, headers=headers)
    assert response.status_code == 200, response.text
    # Text a spreadsheet would take for a formula is written with the guard's apostrophe.
    expected = [["'" + cell if cell.startswith("=") else cell for cell in row] for row in _json_table(whole)]
    assert _file_table(response, whole["columns"]) == expected


@pytest.mark.parametrize("path", ["customer-contribution", "churn"])
async def test_a_supervisor_file_holds_their_team_only(client, app, actors, path):
    world = await churn_world(app, actors)
    headers = world.supervisor.headers
    whole, _ = await _every_page(client, headers, f"{BASE}/{path}", {})
    rows = _file_table(await client.get(f"{BASE}/{path}?format=csv", headers=headers), whole["columns"])
    names = [row[1] for row in rows[1:] if row[0] != "Total"]
    assert names == [row["customer_name"] for row in whole["rows"]]
    assert names and all(world.customers[key].name not in names for key in ("huatong_south", "northern"))


async def test_churn_json_comes_a_page_at_a_time_newest_first(client, app, actors):
    world = await churn_world(app, actors)
    headers = world.executive.headers
    first = (await client.get(f"{BASE}/churn", params={"limit": 2}, headers=headers)).json()
    # Confirmed at the same instant: the later warning first.
    assert [row["customer_name"] for row in first["rows"]] == ["上海华通", "Acme Co., Ltd."]
    assert first["facts"] == [{"key": "confirmed", "label": "Confirmed churns", "value": 3}]
    second = (await client.get(f"{BASE}/churn", params={"limit": 2, "cursor": first["next_cursor"]}, headers=headers)).json()
    assert [row["customer_name"] for row in second["rows"]] == ["北方贸易"] and second["next_cursor"] is None
    assert second["facts"][0]["value"] == 3
    contribution = (await client.get(f"{BASE}/customer-contribution?limit=1", headers=headers)).json()
    wrong_list = await client.get(f"{BASE}/churn", params={"cursor": contribution["next_cursor"]}, headers=headers)
    assert_problem(wrong_list, 422, "pagination.invalid_cursor")
    assert_problem(await client.get(f"{BASE}/churn", params={"limit": 101}, headers=headers), 422)


async def test_a_report_too_long_for_a_sheet_is_refused_before_the_first_byte(client, app, actors, monkeypatch):
    world = await churn_world(app, actors)
    monkeypatch.setattr(export, "MAX_ROWS", 5)  # the header, four customers, the totals: one row too many
    response = await client.get(f"{BASE}/customer-contribution?format=xlsx", headers=world.executive.headers)
    assert_problem(response, 422, "report.too_large_for_xlsx")
    assert (
        await client.get(f"{BASE}/customer-contribution?format=xlsx&year=2026", headers=world.executive.headers)
    ).status_code == 200
    assert (await client.get(f"{BASE}/customer-contribution?format=csv", headers=world.executive.headers)).status_code == 200


async def test_a_file_reads_one_snapshot_while_orders_change(app, actors, monkeypatch):
    monkeypatch.setattr(repository, "STREAM_BATCH", 1)
    world = await report_world(app, actors)
    async with app.state.db.sessionmaker() as session:
        executive = await principal_of(session, world.executive)
    async with app.state.db.snapshot_reader() as snapshot, snapshot.begin():
        whole = await service.contribution_file(snapshot, executive, customer_name=None, year=None)
        lines = [await anext(whole.lines)]
        async with app.state.db.sessionmaker() as writer, writer.begin():
            newcomer = await add_customer(writer, name="新客户", owner_id=world.east_manager.id)
            await add_order(writer, newcomer, on=date(2026, 1, 1), total="9999.00")
            await add_order(writer, world.customers["acme"], on=date(2026, 1, 1), total="1.00")
        lines += [line async for line in whole.lines]
    assert len(lines) == whole.row_count == 4
    assert "新客户" not in [line[1] for line in lines]
    assert sum(line[4] for line in lines) == whole.report.totals["revenue"] == Decimal("680.40")
