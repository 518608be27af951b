"""Spreadsheet files sent as they are written: CSV that Excel opens as UTF-8, XLSX built on disk."""

import csv
import io
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from openpyxl import Workbook

CHUNK_BYTES = 64 * 1024


async def csv_chunks(records: AsyncIterator[Sequence[Any]]) -> AsyncIterator[bytes]:
    """The records as CSV (None as an empty cell), in chunks of about CHUNK_BYTES."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    # The BOM makes Excel read the file as UTF-8, so Chinese names survive a double-click.
    buffer.write("\ufeff")
    async for record in records:
        writer.writerow(record)
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
