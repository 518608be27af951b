"""Spreadsheet files read as a stream of rows: CSV (UTF-8 with or without a BOM, or GB18030) or XLSX (read-only).

Nothing holds the whole file: CSV is decoded as it is read, and openpyxl's read-only mode parses the sheet lazily.
"""

import codecs
import csv
import zipfile
from collections.abc import Generator
from contextlib import closing
from datetime import date, datetime
from pathlib import Path, PurePath
from typing import Any, Literal

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

from crm_api.core.errors import InvalidInput
from crm_api.core.files import unescaped_cell

FileFormat = Literal["csv", "xlsx"]
SCAN_BYTES = 64 * 1024


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


def _xlsx_rows(path: Path, noun: str) -> Generator[list[Any]]:
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError) as exc:
        raise InvalidInput("file", "The file is not a readable XLSX workbook", code=f"{noun}_import.unreadable") from exc
    try:
        for row in workbook.active.iter_rows(values_only=True):
            yield list(row)
    finally:
        workbook.close()


def file_rows(path: Path, file_format: FileFormat, noun: str) -> Generator[list[Any]]:
    """The rows of the file, the header first, as the cells' raw values."""
    return _csv_rows(path, noun) if file_format == "csv" else _xlsx_rows(path, noun)


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


def count_rows(path: Path, file_format: FileFormat, noun: str, *, up_to: int | None = None) -> int:
    """Data rows that are not blank (stopping once past `up_to`): what a run will read."""
    count = 0
    with closing(file_rows(path, file_format, noun)) as rows:
        next(rows, None)
        for cells in rows:
            if any(cell_text(cell) is not None for cell in cells):
                count += 1
                if up_to is not None and count > up_to:
                    break
    return count
