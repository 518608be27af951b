"""Files built to exhaust the server (a small zip unpacking to millions of rows, strings or columns; millions of blank
CSV lines) are refused with 422 before their rows are read: in a fraction of the CPU that reading them would take."""

import io
import time
import zipfile
from collections.abc import Iterable, Iterator

import pytest

from crm_api.customers import imports
from tests.customers.factories import customer_names, import_file
from tests.factories import assert_problem

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE = "http://schemas.openxmlformats.org/package/2006/relationships"
CONTENT_TYPES = (
    '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'
)
HEADER = '<row r="1"><c r="A1" t="inlineStr"><is><t>客户名称</t></is></c></row>'.encode()
# A bomb read row by row costs minutes of CPU (75 s for the 2.5M-row one); refused before its rows, 0.02-0.7 s. The
# bound is on the process's CPU time, not the wall clock, so a machine busy with other work does not fail it.
WITHIN_CPU_SECONDS = 10.0


def repeated(xml: bytes, times: int) -> Iterator[bytes]:
    """`xml` `times` over, in blocks a writer compresses quickly."""
    block = 100_000
    for _ in range(times // block):
        yield xml * block
    yield xml * (times % block)


def workbook(rows: Iterable[bytes], *, dimension: str | None = None, strings: Iterable[bytes] = ()) -> dict[str, tuple]:
    """A multipart `file` of an XLSX written part by part, its sheet and shared strings as given."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{PACKAGE}"><Relationship Id="rId1" Type="{RELS}/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{MAIN}" xmlns:r="{RELS}"><sheets><sheet name="客户" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{PACKAGE}"><Relationship Id="rId1" Type="{RELS}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{RELS}/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
        )
        with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
            part.write(f'<sst xmlns="{MAIN}">'.encode())
            for xml in strings:
                part.write(xml)
            part.write(b"</sst>")
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
            part.write(f'<worksheet xmlns="{MAIN}">'.encode())
            if dimension is not None:
                part.write(f'<dimension ref="{dimension}"/>'.encode())
            part.write(b"<sheetData>")
            for xml in rows:
                part.write(xml)
            part.write(b"</sheetData></worksheet>")
    return {"file": ("customers.xlsx", buffer.getvalue(), XLSX)}


BOMBS = {
    # ~350 KiB: 2.5 million rows of one cell, under the unpacked-size bound.
    "millions of rows": (
        lambda: workbook([HEADER, *repeated(b'<row><c t="inlineStr"><is><t>x</t></is></c></row>', 2_500_000)]),
        "customer_import.too_many_rows",
    ),
    "a row far below the last": (
        lambda: workbook([HEADER, b'<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>x</t></is></c></row>']),
        "customer_import.too_many_rows",
    ),
    "a declared dimension of the whole sheet": (
        lambda: workbook([HEADER], dimension="A1:XFD1048576"),
        "customer_import.too_many_rows",
    ),
    "a declared dimension of every column": (lambda: workbook([HEADER], dimension="A1:XFD2"), "customer_import.too_many_columns"),
    "a header cell in the last column": (
        lambda: workbook([b'<row r="1"><c r="XFD1" t="inlineStr"><is><t>name</t></is></c></row>']),
        "customer_import.too_many_columns",
    ),
    "millions of shared strings": (
        lambda: workbook([HEADER], strings=repeated(b"<si><t>a</t></si>", 5_000_000)),
        "customer_import.unpacked_too_large",
    ),
    "one shared string of 200 MB": (
        lambda: workbook([HEADER], strings=[b"<si><t>", *repeated(b"a" * 1000, 200_000), b"</t></si>"]),
        "customer_import.unpacked_too_large",
    ),
    "a cell over Excel's limit": (
        lambda: workbook([HEADER, b'<row r="2"><c r="A2" t="inlineStr"><is><t>' + b"a" * 40_000 + b"</t></is></c></row>"]),
        "customer_import.cell_too_long",
    ),
}


@pytest.mark.parametrize("bomb", BOMBS)
async def test_a_workbook_built_to_exhaust_the_server_is_refused_at_once(client, actors, bomb):
    manager = await actors.make("account_manager")
    build, code = BOMBS[bomb]
    files = build()
    assert len(files["file"][1]) < 1024 * 1024

    started = time.process_time()
    response = await import_file(client, manager, files, dry_run="true")
    elapsed = time.process_time() - started

    assert_problem(response, 422, code)
    assert elapsed < WITHIN_CPU_SECONDS, f"{bomb}: refused after {elapsed:.2f} s of CPU"
    assert await customer_names(client, manager) == []


async def test_a_csv_of_millions_of_blank_lines_is_refused_at_once(client, actors):
    manager = await actors.make("account_manager")
    files = {"file": ("customers.csv", "客户名称\n".encode() + b"\n" * 10_000_000, "text/csv")}

    started = time.process_time()
    response = await import_file(client, manager, files, dry_run="true")
    elapsed = time.process_time() - started

    assert_problem(response, 422, "customer_import.too_many_rows")
    assert elapsed < WITHIN_CPU_SECONDS, f"refused after {elapsed:.2f} s of CPU"


async def test_a_workbook_within_the_bounds_still_imports(client, actors):
    manager = await actors.make("account_manager")
    rows = [f'<row><c t="inlineStr"><is><t>客户{n}</t></is></c></row>'.encode() for n in range(20)]

    response = await import_file(client, manager, workbook([HEADER, *rows], dimension="A1:A21"), dry_run="true")

    assert response.status_code == 200, response.text
    assert response.json()["valid"] == 20
    assert imports.MAX_SHEET_ROWS >= imports.MAX_IMPORT_ROWS
