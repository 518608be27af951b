"""Spreadsheet files read as a stream of rows: CSV (UTF-8 with or without a BOM, or GB18030) or XLSX (read-only).

Nothing holds the whole file: CSV is decoded as it is read, and openpyxl's read-only mode parses the sheet lazily.
"""

import codecs
import csv
import re
import zipfile
from collections.abc import Generator
from contextlib import closing
from datetime import date, datetime
from pathlib import Path, PurePath
from typing import Any, Literal

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

from crm_api.core.errors import InvalidInput
from crm_api.core.files import count_elements, unescaped_cell

FileFormat = Literal["csv", "xlsx"]
SCAN_BYTES = 64 * 1024
# What a file may make the server do, checked before a row is read: a small zip can unpack to gigabytes, declare
# millions of rows or columns, or hold millions of strings, each of which would take minutes and gigabytes to read.
MAX_COLUMNS = 64
MAX_CELL_CHARS = 32_767  # Excel's own limit
MAX_UNPACKED_BYTES = 128 * 1024 * 1024
WORKSHEETS = re.compile(r"^xl/worksheets/[^/]+\.xml$")
SHARED_STRINGS = "xl/sharedStrings.xml"


def max_sheet_rows(max_rows: int) -> int:
    """Lines a file of at most `max_rows` data rows may have, blank ones included: they cost time too."""
    return 2 * max_rows


def max_shared_strings(max_rows: int) -> int:
    return 10 * max_rows


def too_many_rows(noun: str, max_rows: int) -> InvalidInput:
    return InvalidInput("file", f"At most {max_rows} rows per import", code=f"{noun}_import.too_many_rows")


def file_format(filename: str, noun: str) -> FileFormat:
    suffix = PurePath(filename).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix == ".xlsx":
        return "xlsx"
    raise InvalidInput("file", "Upload a .csv or .xlsx file", code=f"{noun}_import.unsupported_format")


def csv_encoding(path: Path) -> str:
    """UTF-8 when every byte decodes as such (a BOM is dropped), else GB18030: what Excel on a Chinese Windows saves."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as file:
        try:
            while chunk := file.read(SCAN_BYTES):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "gb18030"
    return "utf-8-sig"


def _csv_rows(path: Path, noun: str) -> Generator[list[Any]]:
    with path.open(encoding=csv_encoding(path), errors="replace", newline="") as text:
        try:
            yield from csv.reader(text)
        except csv.Error as exc:  # a cell over the csv module's field limit, an unclosed quote…
            raise InvalidInput("file", f"The CSV file cannot be read: {exc}", code=f"{noun}_import.unreadable") from exc


def _too_large(noun: str, max_rows: int) -> InvalidInput:
    return InvalidInput(
        "file",
        f"The workbook unpacks to more than {MAX_UNPACKED_BYTES // (1024 * 1024)} MB or {max_shared_strings(max_rows)} strings",
        code=f"{noun}_import.unpacked_too_large",
    )


def _too_many_columns(noun: str) -> InvalidInput:
    return InvalidInput("file", f"At most {MAX_COLUMNS} columns", code=f"{noun}_import.too_many_columns")


def _check_unpacked(path: Path, noun: str, max_rows: int) -> None:
    """Refuse a workbook whose parts unpack too large, or whose sheets or strings are too many, before reading it.
    The sizes are those the zip declares, which its reader holds every part to; the elements are counted on the bytes."""
    sheet_rows, strings = max_sheet_rows(max_rows), max_shared_strings(max_rows)
    with zipfile.ZipFile(path) as archive:
        parts = archive.infolist()
        if sum(part.file_size for part in parts) > MAX_UNPACKED_BYTES:
            raise _too_large(noun, max_rows)
        for part in parts:
            if WORKSHEETS.match(part.filename):
                with archive.open(part) as xml:
                    if count_elements(xml, "row", stop_after=sheet_rows) > sheet_rows:
                        raise too_many_rows(noun, max_rows)
            elif part.filename == SHARED_STRINGS:
                with archive.open(part) as xml:
                    if count_elements(xml, "si", stop_after=strings) > strings:
                        raise _too_large(noun, max_rows)


def _xlsx_rows(path: Path, noun: str, max_rows: int) -> Generator[list[Any]]:
    try:
        _check_unpacked(path, noun, max_rows)
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError) as exc:
        raise InvalidInput("file", "The file is not a readable XLSX workbook", code=f"{noun}_import.unreadable") from exc
    try:
        sheet = workbook.active
        # The declared size (the <dimension> openpyxl read on opening): refused when too large, then forgotten, as
        # openpyxl would pad every row to its width and add its rows.
        if (sheet.max_row or 0) > max_sheet_rows(max_rows):
            raise too_many_rows(noun, max_rows)
        if (sheet.max_column or 0) > MAX_COLUMNS:
            raise _too_many_columns(noun)
        sheet.reset_dimensions()
        header = next(sheet.iter_rows(max_row=1, values_only=True), ())
        width = max((index + 1 for index, cell in enumerate(header) if cell is not None), default=0)
        yield list(header[:width])
        # Rows the sheet skips come back blank, and are counted: `<row r="5000000">` is one element.
        for row in sheet.iter_rows(min_row=2, max_col=max(width, 1), values_only=True):
            yield list(row)
    finally:
        workbook.close()


def _bounded(rows: Generator[list[Any]], noun: str, max_rows: int) -> Generator[list[Any]]:
    """The rows, refused once there are too many lines (blank ones too), a header too wide or a cell too long."""
    with closing(rows):
        for number, cells in enumerate(rows, start=1):
            if number == 1 and max((i + 1 for i, cell in enumerate(cells) if cell not in (None, "")), default=0) > MAX_COLUMNS:
                raise _too_many_columns(noun)
            if number > max_sheet_rows(max_rows) + 1:
                raise too_many_rows(noun, max_rows)
            if any(isinstance(cell, str) and len(cell) > MAX_CELL_CHARS for cell in cells):
                raise InvalidInput(
                    "file", f"A cell holds more than {MAX_CELL_CHARS} characters", code=f"{noun}_import.cell_too_long"
                )
            yield cells


def file_rows(path: Path, file_format: FileFormat, noun: str, *, max_rows: int) -> Generator[list[Any]]:
    """The rows of the file, the header first, as the cells' raw values; a file beyond the bounds of `max_rows` data
    rows is refused (422) as soon as that shows, for an XLSX before a row is read."""
    rows = _csv_rows(path, noun) if file_format == "csv" else _xlsx_rows(path, noun, max_rows)
    return _bounded(rows, noun, max_rows)


def cell_text(value: Any) -> str | None:
    """A cell as the text a person typed: trimmed, None when blank, an exported file's formula guard taken off."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # XLSX keeps numbers as floats: 13801380001.0 is a phone
    if isinstance(value, datetime) and value == datetime.combine(value.date(), datetime.min.time()):
        value = value.date()  # a date cell of XLSX comes as midnight of that day
    if isinstance(value, datetime | date):
        value = value.isoformat()
    return unescaped_cell(str(value).strip()) or None


def count_rows(path: Path, file_format: FileFormat, noun: str, *, max_rows: int, up_to: int | None = None) -> int:
    """Data rows that are not blank (stopping once past `up_to`): what a run will read."""
    count = 0
    with closing(file_rows(path, file_format, noun, max_rows=max_rows)) as rows:
        next(rows, None)
        for cells in rows:
            if any(cell_text(cell) is not None for cell in cells):
                count += 1
                if up_to is not None and count > up_to:
                    break
    return count
