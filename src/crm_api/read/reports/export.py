"""One place that turns a report into JSON, CSV, XLSX or PDF, chosen by `?format=` or the Accept header."""

from collections.abc import AsyncIterator, Iterable, Sequence
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import Response, StreamingResponse
from fpdf import FontFace
from pydantic import BaseModel

from crm_api.core.errors import InvalidInput
from crm_api.core.files import csv_chunks
from crm_api.core.pdf import cjk_document
from crm_api.core.xlsx import DATE_FORMAT, MAX_ROWS, Sheet, workbook_chunks
from crm_api.read.reports.schemas import ColumnType, ReportFile, ReportRead, Scalar


class ExportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"
    PDF = "pdf"

    @property
    def streams(self) -> bool:
        """A file written while its rows are read, so it may hold every row of a report that comes a page at a time."""
        return self in (ExportFormat.CSV, ExportFormat.XLSX)


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


async def _lines(lines: Iterable[Sequence[Scalar]]) -> AsyncIterator[Sequence[Scalar]]:
    for line in lines:
        yield line


async def _records(report: ReportRead[Any], lines: AsyncIterator[Sequence[Scalar]]) -> AsyncIterator[Sequence[Scalar]]:
    """The table as a file holds it: the column labels, each row's cells, the totals."""
    yield [column.label for column in report.columns]
    async for line in lines:
        yield line
    totals = _totals_cells(report)
    if totals is not None:
        yield totals


NUMBER_FORMATS = {
    ColumnType.MONEY: "#,##0.00",
    ColumnType.PERCENT: "0.00",
    ColumnType.INTEGER: "0",
    ColumnType.NUMBER: "0.00",
    ColumnType.DATE: DATE_FORMAT,
}


def _xlsx_chunks(report: ReportRead[Any], lines: AsyncIterator[Sequence[Scalar]]) -> AsyncIterator[bytes]:
    about: list[list[Scalar]] = [[report.title], ["Generated at", report.generated_at.isoformat()]]
    about += [[key, _text(value)] for key, value in report.parameters.items()]
    about += [[fact.label, fact.value] for fact in report.facts]
    table = Sheet("Report", _records(report, lines), [NUMBER_FORMATS.get(column.type) for column in report.columns])
    return workbook_chunks([table, Sheet("About", _lines(about), bold_header=False)])


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


def _file_response(
    report: ReportRead[Any], lines: AsyncIterator[Sequence[Scalar]], export: ExportFormat, file_stem: str
) -> Response:
    disposition = {"Content-Disposition": f'attachment; filename="{file_stem}.{export.value}"'}
    media_type = MEDIA_TYPES[export]
    match export:
        case ExportFormat.CSV:
            return StreamingResponse(csv_chunks(_records(report, lines)), media_type=media_type, headers=disposition)
        case ExportFormat.XLSX:
            return StreamingResponse(_xlsx_chunks(report, lines), media_type=media_type, headers=disposition)
        case ExportFormat.PDF:
            return Response(_pdf(report), media_type=media_type, headers=disposition)
        case ExportFormat.JSON:
            return Response(report.model_dump_json(), media_type=media_type)


def export_response(report: ReportRead[Any], export: ExportFormat, file_stem: str) -> Response:
    """The report as JSON, or as a file attachment named `<file_stem>.<format>`."""
    return _file_response(report, _lines(_cells(report, row) for row in report.rows), export, file_stem)


def streamed_response(whole: ReportFile[Any], export: ExportFormat, file_stem: str) -> Response:
    """A report too long to hold, as CSV or XLSX written while its rows are read (problems found before the first
    byte, such as a sheet too long, are still answered as errors)."""
    # The header row and the totals line share the sheet with the rows.
    if export is ExportFormat.XLSX and whole.row_count + 2 > MAX_ROWS:
        raise InvalidInput(
            "format",
            f"A sheet holds at most {MAX_ROWS - 2} rows and this report has {whole.row_count}; ask for csv",
            code="report.too_large_for_xlsx",
        )
    return _file_response(whole.report, whole.lines, export, file_stem)
