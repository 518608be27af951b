"""Spreadsheet files sent as they are written: CSV that Excel opens as UTF-8, XLSX built on disk."""

import csv
import io
import tempfile
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from typing import Any

from openpyxl import Workbook

CHUNK_BYTES = 64 * 1024
# A spreadsheet reads text starting with one of these as a formula (OWASP CSV injection): the cell gets a
# leading apostrophe, so it shows as the text it is, and an XLSX writer stores it as a string, never a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    return [safe_cell(value) for value in values]


def unescaped_cell(text: str) -> str:
    """A cell as it was before safe_cell, so an exported file imports again unchanged."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_TRIGGERS) else text


async def csv_chunks(records: AsyncIterator[Sequence[Any]]) -> AsyncIterator[bytes]:
    """The records as CSV (None as an empty cell), in chunks of about CHUNK_BYTES."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    # The BOM makes Excel read the file as UTF-8, so Chinese names survive a double-click.
    buffer.write("\ufeff")
    async for record in records:
        writer.writerow(safe_row(record))
        if buffer.tell() >= CHUNK_BYTES:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def saved_workbook_chunks(workbook: Workbook) -> Iterator[bytes]:
    """A write-only workbook saved to a temporary file, then read back in chunks.

    Write-only mode keeps rows on disk, not in memory; the zip is only complete once saved.
    """
    with tempfile.TemporaryFile() as file:
        workbook.save(file)
        file.seek(0)
        while chunk := file.read(CHUNK_BYTES):
            yield chunk
