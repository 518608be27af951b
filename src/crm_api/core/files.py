"""Spreadsheet files sent as they are written: CSV that Excel opens as UTF-8 (XLSX: core/xlsx.py)."""

import csv
import io
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import IO, Any

CHUNK_BYTES = 64 * 1024
# Decompressed XML scanned at a time when counting elements.
SCAN_BYTES = 1024 * 1024
# Longer than any namespace prefix and element name: a tag cut by a chunk's end starts within this many bytes of it.
TAG_START_BYTES = 64
# A spreadsheet reads text starting with one of these as a formula (OWASP CSV injection): the cell gets a
# leading apostrophe, so it shows as the text it is, and an XLSX writer stores it as a string, never a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_row(values: Iterable[Any]) -> list[Any]:
    return ["'" + value if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS) else value for value in values]


def unescaped_cell(text: str) -> str:
    """A cell as it was before safe_row, so an exported file imports again unchanged."""
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


def count_elements(xml: IO[bytes], name: str, *, stop_after: int) -> int:
    """How many `name` elements (any namespace prefix) the XML stream holds, counted on the bytes without parsing, so
    millions take a fraction of a second; the count stops as soon as it passes `stop_after`."""
    tag = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?" + re.escape(name.encode()) + rb"[\s/>]")
    count, carried = 0, b""
    while chunk := xml.read(SCAN_BYTES):
        data = carried + chunk
        cut = data.rfind(b"<", max(0, len(data) - TAG_START_BYTES))
        scanned, carried = (data, b"") if cut == -1 else (data[:cut], data[cut:])
        count += len(tag.findall(scanned))
        if count > stop_after:
            return count
    return count + len(tag.findall(carried))
