"""The streamed XLSX writer: what a spreadsheet reads back, and a file that goes out while its rows are still unread."""

import io
from datetime import date
from decimal import Decimal

import openpyxl

from crm_api.core.files import CHUNK_BYTES
from crm_api.core.xlsx import Sheet, workbook_chunks


async def _lines(lines, read=None):
    for line in lines:
        if read is not None:
            read.append(line)
        yield line


async def _file(sheets):
    return b"".join([chunk async for chunk in workbook_chunks(sheets)])


async def test_cells_read_back_as_written_with_their_formats():
    lines = [
        ["Name", "Orders", "Revenue", "On"],
        ["上海华通 & <Acme>", 3, Decimal("1234.50"), date(2026, 5, 10)],
        ["  padded  ", None, Decimal("-0.05"), None],
        ["=1+2", 0, 2.5, "text"],
        ["bell\x07 and tab\tkept", True, None, date(1900, 3, 1)],
    ]
    content = await _file(
        [
            Sheet("Report", _lines(lines), [None, "0", "#,##0.00", "yyyy-mm-dd"]),
            Sheet("About", _lines([["Generated", date(2026, 1, 2)]]), bold_header=False),
        ]
    )
    workbook = openpyxl.load_workbook(io.BytesIO(content))
    assert workbook.sheetnames == ["Report", "About"]
    sheet = workbook["Report"]
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[0] == lines[0] and sheet["A1"].font.b
    assert values[1][:3] == ["上海华通 & <Acme>", 3, 1234.5] and values[1][3].date() == date(2026, 5, 10)
    # Blank cells keep the cells after them in their columns.
    assert values[2] == ["  padded  ", None, -0.05, None]
    # Text a spreadsheet would take for a formula is stored as the text it is.
    assert values[3] == ["'=1+2", 0, 2.5, "text"] and sheet["A4"].data_type == "s"
    # A control character XML cannot hold is left out; a tab stays.
    assert values[4][:2] == ["bell and tab\tkept", True] and values[4][3].date() == date(1900, 3, 1)
    assert [sheet["B2"].number_format, sheet["C2"].number_format, sheet["D2"].number_format] == ["0", "#,##0.00", "yyyy-mm-dd"]
    about = workbook["About"]
    assert about["B1"].value.date() == date(2026, 1, 2) and about["B1"].number_format == "yyyy-mm-dd"
    assert not about["A1"].font.b


async def test_the_file_goes_out_in_bounded_chunks_while_rows_are_still_unread():
    total = 100_000
    read = []
    rows = _lines(([f"客户 {i}", i, Decimal(i).scaleb(-2)] for i in range(total)), read)
    chunks = workbook_chunks([Sheet("Report", rows, [None, "0", "#,##0.00"])])
    first = await anext(chunks)
    assert len(read) < total / 4
    sizes = [len(first)] + [len(chunk) async for chunk in chunks]
    assert len(read) == total and len(sizes) > 4
    # What waits in memory is a chunk of XML and its deflated bytes, however many rows there are.
    assert max(sizes) < 2 * CHUNK_BYTES
