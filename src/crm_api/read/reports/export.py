"""One place that turns a report into JSON, CSV, XLSX or PDF, chosen by `?format=` or the Accept header."""

from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import Response, StreamingResponse
from fpdf import FontFace
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from pydantic import BaseModel

from crm_api.core.errors import InvalidInput
from crm_api.core.files import csv_chunks, safe_cell, safe_row, saved_workbook_chunks
from crm_api.core.pdf import cjk_document
from crm_api.read.reports.schemas import ColumnType, ReportRead, Scalar


class ExportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"
    PDF = "pdf"


MEDIA_TYPES = {
    ExportFormat.JSON: "application/json",
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ExportFormat.PDF: "application/pdf",
}

# OpenAPI `responses=` entry: the 200 of a report may be any of the export formats.
EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The report; JSON by default, or the file asked for by `format` or `Accept`",
        "content": {MEDIA_TYPES[f].split(";")[0]: {} for f in ExportFormat if f is not ExportFormat.JSON},
    }
}

# A printed table past this many rows helps nobody: those go to CSV or XLSX.
PDF_MAX_ROWS = 5000


def _format_from_accept(accept: str) -> ExportFormat:
    for media_range in accept.split(","):
        media = media_range.split(";")[0].strip().lower()
        for export_format, media_type in MEDIA_TYPES.items():
            if media == media_type.split(";")[0]:
                return export_format
    return ExportFormat.JSON


def export_format(
    request: Request,
    format: Annotated[
        ExportFormat | None, Query(description="json (default), csv, xlsx or pdf; overrides the Accept header")
    ] = None,
) -> ExportFormat:
    return format or _format_from_accept(request.headers.get("accept", ""))


def _cells(report: ReportRead[Any], row: BaseModel) -> list[Scalar]:
    return [getattr(row, column.key) for column in report.columns]


def _totals_cells(report: ReportRead[Any]) -> list[Scalar] | None:
    if not report.totals:
        return None
    cells: list[Scalar] = [report.totals.get(column.key) for column in report.columns]
    if cells[0] is None:
        cells[0] = "Total"
    return cells


def _text(value: Scalar) -> str:
    return "" if value is None else str(value)


async def _each(rows: list[BaseModel]) -> AsyncIterator[BaseModel]:
    for row in rows:
        yield row


async def _csv_records(report: ReportRead[Any], rows: AsyncIterator[BaseModel]) -> AsyncIterator[list[Scalar]]:
    yield [column.label for column in report.columns]
    async for row in rows:
        yield _cells(report, row)
    totals = _totals_cells(report)
    if totals is not None:
        yield totals


NUMBER_FORMATS = {
    ColumnType.MONEY: "#,##0.00",
    ColumnType.PERCENT: "0.00",
    ColumnType.INTEGER: "0",
    ColumnType.NUMBER: "0.00",
    ColumnType.DATE: "yyyy-mm-dd",
}


async def _xlsx_chunks(report: ReportRead[Any], rows: AsyncIterator[BaseModel]) -> AsyncIterator[bytes]:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Report")
    bold = Font(bold=True)

    def line(values: list[Scalar], *, header: bool = False) -> list[WriteOnlyCell]:
        cells = []
        for column, value in zip(report.columns, values, strict=True):
            cell = WriteOnlyCell(sheet, value=safe_cell(value))
            if header:
                cell.font = bold
            elif isinstance(value, int | Decimal | date) and column.type in NUMBER_FORMATS:
                cell.number_format = NUMBER_FORMATS[column.type]
            cells.append(cell)
        return cells

    sheet.append(line([column.label for column in report.columns], header=True))
    async for row in rows:
        sheet.append(line(_cells(report, row)))
    totals = _totals_cells(report)
    if totals is not None:
        sheet.append(line(totals))

    about = workbook.create_sheet("About")
    about.append(safe_row([report.title]))
    about.append(["Generated at", report.generated_at.isoformat()])
    for key, value in report.parameters.items():
        about.append(safe_row([key, _text(value)]))
    for fact in report.facts:
        about.append(safe_row([fact.label, fact.value]))
    for chunk in saved_workbook_chunks(workbook):
        yield chunk


def _printed(value: Scalar, column_type: ColumnType) -> str:
    if isinstance(value, Decimal) and column_type is ColumnType.MONEY:
        return f"{value:,.2f}"
    return _text(value)


def _pdf(report: ReportRead[Any]) -> bytes:
    if len(report.rows) > PDF_MAX_ROWS:
        raise InvalidInput(
            "format",
            f"Reports over {PDF_MAX_ROWS} rows are not printed; ask for csv or xlsx",
            code="report.too_large_for_pdf",
        )
    pdf = cjk_document("landscape")
    pdf.set_font("cjk", size=14)
    pdf.cell(text=report.title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=8)
    lines = [f"Generated at {report.generated_at.isoformat(timespec='seconds')}"]
    lines += [f"{key}: {_text(value) or '—'}" for key, value in report.parameters.items()]
    lines += [f"{fact.label}: {_text(fact.value)}" for fact in report.facts]
    for text in lines:
        pdf.cell(text=text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    numeric = {ColumnType.MONEY, ColumnType.PERCENT, ColumnType.INTEGER, ColumnType.NUMBER}
    align = tuple("RIGHT" if column.type in numeric else "LEFT" for column in report.columns)
    heading = FontFace(emphasis=None, fill_color=(230, 230, 230))
    with pdf.table(headings_style=heading, text_align=align, line_height=5) as table:
        table.row([column.label for column in report.columns])
        body = [_cells(report, row) for row in report.rows]
        totals = _totals_cells(report)
        for values in body + ([totals] if totals is not None else []):
            table.row([_printed(value, column.type) for column, value in zip(report.columns, values, strict=True)])
    return bytes(pdf.output())


def export_response(
    report: ReportRead[Any], export: ExportFormat, file_stem: str, every_row: AsyncIterator[BaseModel] | None = None
) -> Response:
    """The report as JSON, or as a file attachment named `<file_stem>.<format>`.

    A report that comes a page at a time passes `every_row` (read only if streamed): CSV and XLSX stream
    every row, JSON and PDF hold the page.
    """
    disposition = {"Content-Disposition": f'attachment; filename="{file_stem}.{export.value}"'}
    media_type = MEDIA_TYPES[export]
    rows = _each(report.rows) if every_row is None else every_row
    match export:
        case ExportFormat.CSV:
            return StreamingResponse(csv_chunks(_csv_records(report, rows)), media_type=media_type, headers=disposition)
        case ExportFormat.XLSX:
            return StreamingResponse(_xlsx_chunks(report, rows), media_type=media_type, headers=disposition)
        case ExportFormat.PDF:
            return Response(_pdf(report), media_type=media_type, headers=disposition)
        case ExportFormat.JSON:
            return Response(report.model_dump_json(), media_type=media_type)
