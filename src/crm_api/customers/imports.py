"""Customer import from CSV or XLSX: every row checked like a create, the valid ones written set-based."""

import asyncio
import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import PurePath
from typing import IO, Any

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.core import audit
from crm_api.core.clock import clock
from crm_api.core.codes import next_codes
from crm_api.core.errors import FieldError, InvalidInput, PayloadTooLarge
from crm_api.core.files import count_elements, unescaped_cell
from crm_api.core.names import normalize_company_name
from crm_api.core.permissions import Principal
from crm_api.custom_fields import service as custom_fields
from crm_api.custom_fields.policy import CustomFieldEntity
from crm_api.customers.columns import CUSTOM_FIELD_COLUMN, SYSTEM_COLUMNS, column_for, from_cell
from crm_api.customers.policy import CustomerStatus
from crm_api.customers.repository import CustomerRepository
from crm_api.customers.schemas import CustomerCreate, DuplicateMatch, ImportMode, ImportReport, ImportRowError
from crm_api.customers.service import (
    CUSTOMER_PHONES,
    DICTIONARY_FIELDS,
    CustomerKeys,
    duplicate_error,
    duplicate_message,
    duplicates_of,
    ensure_can_own,
    normalized_phones,
)

MAX_IMPORT_BYTES = 20 * 1024 * 1024
MAX_IMPORT_ROWS = 100_000
# What an XLSX may make the server do, checked before a row is read: a small zip can unpack to gigabytes, declare
# millions of rows or columns, or hold millions of strings, each of which would take minutes and gigabytes to read.
MAX_SHEET_ROWS = 2 * MAX_IMPORT_ROWS  # blank rows included, in CSV too
MAX_IMPORT_COLUMNS = 64
MAX_CELL_CHARS = 32_767  # Excel's own limit
MAX_UNPACKED_BYTES = 128 * 1024 * 1024
MAX_SHARED_STRINGS = 10 * MAX_IMPORT_ROWS
WORKSHEETS = re.compile(r"^xl/worksheets/[^/]+\.xml$")
SHARED_STRINGS = "xl/sharedStrings.xml"
# Customers per INSERT round trip (the driver splits further by its parameter limit).
INSERT_BATCH = 5_000
HEADER_ROW = 1


@dataclass
class ParsedFile:
    """The rows that passed the schema (by row number) and the errors of those that did not."""

    rows: int = 0
    valid: dict[int, CustomerCreate] = field(default_factory=dict)
    errors: list[ImportRowError] = field(default_factory=list)

    def reject(self, row: int, field_name: str, message: str, duplicate: DuplicateMatch | None = None) -> None:
        self.errors.append(ImportRowError(row=row, field=field_name, message=message, duplicate=duplicate))
        self.valid.pop(row, None)


def _too_many_rows() -> InvalidInput:
    return InvalidInput("file", f"At most {MAX_IMPORT_ROWS} rows per import", code="customer_import.too_many_rows")


def _cell_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # XLSX keeps numbers as floats: 13801380001.0 is a phone
    if isinstance(value, datetime | date):
        value = value.isoformat()
    text = str(value)
    if len(text) > MAX_CELL_CHARS:
        raise InvalidInput("file", f"A cell holds more than {MAX_CELL_CHARS} characters", code="customer_import.cell_too_long")
    return unescaped_cell(text.strip()) or None


def _csv_rows(upload: IO[bytes]) -> Iterator[list[Any]]:
    raw = upload.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("gb18030", errors="replace")  # what Excel on a Chinese Windows saves
    try:
        yield from csv.reader(io.StringIO(text, newline=""))
    except csv.Error as exc:  # a cell over the csv module's field limit, an unclosed quote…
        raise InvalidInput("file", f"The CSV file cannot be read: {exc}", code="customer_import.unreadable") from exc


def _check_unpacked(upload: IO[bytes]) -> None:
    """Refuse a workbook whose parts unpack too large, or whose sheets or strings are too many, before reading it.
    The sizes are those the zip declares, which its reader holds every part to; the elements are counted on the bytes."""
    too_large = InvalidInput(
        "file",
        f"The workbook unpacks to more than {MAX_UNPACKED_BYTES // (1024 * 1024)} MB or {MAX_SHARED_STRINGS} strings",
        code="customer_import.unpacked_too_large",
    )
    with zipfile.ZipFile(upload) as archive:
        parts = archive.infolist()
        if sum(part.file_size for part in parts) > MAX_UNPACKED_BYTES:
            raise too_large
        for part in parts:
            if WORKSHEETS.match(part.filename):
                with archive.open(part) as xml:
                    if count_elements(xml, "row", stop_after=MAX_SHEET_ROWS) > MAX_SHEET_ROWS:
                        raise _too_many_rows()
            elif part.filename == SHARED_STRINGS:
                with archive.open(part) as xml:
                    if count_elements(xml, "si", stop_after=MAX_SHARED_STRINGS) > MAX_SHARED_STRINGS:
                        raise too_large
    upload.seek(0)


def _xlsx_rows(upload: IO[bytes]) -> Iterator[list[Any]]:
    try:
        _check_unpacked(upload)
        workbook = openpyxl.load_workbook(upload, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError) as exc:
        raise InvalidInput("file", "The file is not a readable XLSX workbook", code="customer_import.unreadable") from exc
    try:
        sheet = workbook.active
        # The declared size (the <dimension> openpyxl read on opening): refused when too large, then forgotten, as
        # openpyxl would pad every row to its width and add its rows.
        if (sheet.max_row or 0) > MAX_SHEET_ROWS:
            raise _too_many_rows()
        if (sheet.max_column or 0) > MAX_IMPORT_COLUMNS:
            raise _too_many_columns()
        sheet.reset_dimensions()
        header = next(sheet.iter_rows(max_row=1, values_only=True), ())
        width = max((index + 1 for index, cell in enumerate(header) if cell is not None), default=0)
        if width > MAX_IMPORT_COLUMNS:
            raise _too_many_columns()
        yield list(header[:width])
        # Rows the sheet skips come back blank, and parse_file counts them: `<row r="5000000">` is one element.
        for row in sheet.iter_rows(min_row=2, max_col=max(width, 1), values_only=True):
            yield list(row)
    finally:
        workbook.close()


def _too_many_columns() -> InvalidInput:
    return InvalidInput("file", f"At most {MAX_IMPORT_COLUMNS} columns", code="customer_import.too_many_columns")


def _rows_of(upload: IO[bytes], filename: str) -> Iterator[list[Any]]:
    suffix = PurePath(filename).suffix.lower()
    if suffix == ".csv":
        return _csv_rows(upload)
    if suffix == ".xlsx":
        return _xlsx_rows(upload)
    raise InvalidInput("file", "Upload a .csv or .xlsx file", code="customer_import.unsupported_format")


# The key of the active custom field a header names (by key or label), None when it names none.
CustomFieldHeader = Callable[[str], str | None]


def _header(cells: list[Any], custom_field_key: CustomFieldHeader) -> dict[int, str]:
    """Column index -> field (`custom_fields.<key>` for a custom field); a column nobody knows is a 422, so no data is
    silently dropped."""
    columns, unknown = {}, []
    for index, cell in enumerate(cells):
        text = _cell_text(cell)
        if text is None:
            continue
        column = column_for(text)
        if column is None and (key := custom_field_key(text)) is not None:
            column = CUSTOM_FIELD_COLUMN + key
        if column is None:
            unknown.append(text)
        elif column not in SYSTEM_COLUMNS:
            columns[index] = column
    if unknown:
        raise InvalidInput("file", f"Unknown columns: {', '.join(unknown)}", code="customer_import.unknown_columns")
    if "name" not in columns.values():
        raise InvalidInput("file", "The file has no name (客户名称) column", code="customer_import.no_name_column")
    return columns


def parse_file(upload: IO[bytes], filename: str, custom_field_key: CustomFieldHeader) -> ParsedFile:
    """Read the rows and check each against the create schema (no database: runs in a worker thread)."""
    rows = _rows_of(upload, filename)
    columns = _header(next(rows, []), custom_field_key)
    parsed = ParsedFile()
    for number, cells in enumerate(rows, start=HEADER_ROW + 1):
        if number > MAX_SHEET_ROWS:  # blank rows cost time too: a file of millions of empty lines is refused
            raise _too_many_rows()
        texts = {columns[i]: _cell_text(cell) for i, cell in enumerate(cells) if i in columns}
        values = {column: text for column, text in texts.items() if text is not None}
        if not values:
            continue
        parsed.rows += 1
        if parsed.rows > MAX_IMPORT_ROWS:
            raise _too_many_rows()
        _check_row(parsed, number, values)
    return parsed


def _check_row(parsed: ParsedFile, number: int, values: dict[str, str]) -> None:
    data: dict[str, Any] = {}
    for column, text in values.items():
        if column.startswith(CUSTOM_FIELD_COLUMN):
            data.setdefault("custom_fields", {})[column.removeprefix(CUSTOM_FIELD_COLUMN)] = text
        else:
            data[column] = from_cell(column, text)
    try:
        customer = CustomerCreate.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            parsed.reject(number, ".".join(str(p) for p in error["loc"]) or "row", error["msg"])
        return
    parsed.valid[number] = customer


async def _custom_field_problems(
    session: AsyncSession, rules: custom_fields.FieldRules, values: dict[str, Any], taken_in_file: set[tuple[str, str]]
) -> list[tuple[str, str]]:
    """Checks the row's custom fields like a create, and its unique values against the database and the rows before;
    puts the normalised document in `values`."""
    document, errors = rules.check(values["custom_fields"] or {})
    if not errors:
        errors = await custom_fields.unique_errors(session, rules, document)
    for definition in rules.unique_written(document, None):
        marker = (definition.key, repr(document[definition.key]))
        if marker in taken_in_file:
            errors.append(
                FieldError(
                    field=f"custom_fields.{definition.key}", message=f"{definition.label} repeats an earlier row", type="unique"
                )
            )
        taken_in_file.add(marker)
    values["custom_fields"] = document
    return [(error.field, error.message) for error in errors]


async def _check_rules(session: AsyncSession, parsed: ParsedFile, rules: custom_fields.FieldRules) -> dict[int, dict[str, Any]]:
    """The create's rules on the schema-valid rows (dictionary items and custom fields fetched once): row -> values."""
    allowed = await CustomerRepository(session).active_dictionary_values(DICTIONARY_FIELDS.values())
    taken_in_file: set[tuple[str, str]] = set()
    checked = {}
    for number, customer in list(parsed.valid.items()):
        values = customer.model_dump()
        problems = []
        for name, category in DICTIONARY_FIELDS.items():
            if values[name] is None:
                continue
            # A file written by people may carry the label (上海) rather than the value (shanghai).
            value = allowed.get(category, {}).get(values[name])
            if value is None:
                problems.append((name, f"{values[name]!r} is not an active {category} value"))
            values[name] = value
        try:
            values |= normalized_phones(values, CUSTOMER_PHONES)
        except InvalidInput as exc:
            problems += [(e.field, e.message) for e in exc.errors]
        problems += await _custom_field_problems(session, rules, values, taken_in_file)
        for name, message in problems:
            parsed.reject(number, name, message)
        if not problems:
            checked[number] = values
    await _refuse_duplicates(session, parsed, checked)
    return checked


async def _refuse_duplicates(session: AsyncSession, parsed: ParsedFile, checked: dict[int, dict[str, Any]]) -> None:
    """The create's duplicate guard on every checked row, in one query; a row repeating an earlier row's name,
    phone or email is refused too."""
    keys = {number: CustomerKeys.of(values) for number, values in checked.items()}
    found = await duplicates_of(session, list(keys.values()))
    first_rows: dict[tuple[str, str], int] = {}
    for (number, key), matches in zip(keys.items(), found, strict=True):
        if matches:
            match = matches[0]
            parsed.reject(number, match.matched_on, duplicate_message(match), match)
            del checked[number]
            continue
        for on in ("name", "phone", "email"):
            value = getattr(key, on)
            earlier = first_rows.setdefault((on, value), number) if value else number
            if earlier != number:
                parsed.reject(number, on, f"Row {earlier} has the same {on}")
                del checked[number]
                break


async def _write(session: AsyncSession, actor: Principal, rows: list[dict[str, Any]]) -> list[str]:
    """Insert the customers with codes from one counter bump; their codes."""
    codes = await next_codes(session, "KH", len(rows))
    now = clock.now()
    repo = CustomerRepository(session)
    for start in range(0, len(rows), INSERT_BATCH):
        batch = rows[start : start + INSERT_BATCH]
        customers = [
            {k: v for k, v in values.items() if k != "tags"}
            | {
                "code": code,
                "name_normalized": normalize_company_name(values["name"]),
                "owner_id": actor.user_id,
                "created_by_id": actor.user_id,
                "status": CustomerStatus.ACTIVE,
                "created_at": now,
                "updated_at": now,
            }
            for values, code in zip(batch, codes[start : start + INSERT_BATCH], strict=True)
        ]
        await repo.insert_many(customers, [values["tags"] or [] for values in batch])
    return codes


async def import_customers(
    session: AsyncSession,
    actor: Principal,
    *,
    upload: IO[bytes],
    filename: str,
    size: int,
    dry_run: bool,
    mode: ImportMode,
) -> ImportReport:
    """Customers from a file, owned by the importer. all_or_nothing: any invalid row is a 422 and nothing is written."""
    ensure_can_own(actor)
    if size > MAX_IMPORT_BYTES:
        raise PayloadTooLarge(f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB")
    rules = await custom_fields.rules_for(session, CustomFieldEntity.CUSTOMER)
    # Parsing and schema checks are CPU work: off the event loop.
    parsed = await asyncio.to_thread(parse_file, upload, filename, rules.key_for_header)
    checked = await _check_rules(session, parsed, rules)
    errors = sorted(parsed.errors, key=lambda e: e.row)
    invalid = len({e.row for e in errors})
    write = not dry_run and (mode == "valid_rows_only" or not invalid)
    report = ImportReport(
        dry_run=dry_run,
        mode=mode,
        rows=parsed.rows,
        valid=len(checked),
        invalid=invalid,
        created=len(checked) if write else 0,
        errors=errors,
    )
    if mode == "all_or_nothing" and invalid and not dry_run:
        error = InvalidInput.many(
            [FieldError(field=f"row {e.row}: {e.field}", message=e.message, type="value_error") for e in errors],
            f"{invalid} of {parsed.rows} rows are invalid; nothing was imported",
            code="customer_import.invalid_rows",
        )
        error.extra = {"report": report.model_dump()}
        raise error
    if write and checked:
        rows = [checked[n] for n in sorted(checked)]
        try:
            async with session.begin_nested():
                codes = await _write(session, actor, rows)
        except IntegrityError:
            # Another request wrote one of these customers meanwhile (the unique indexes held): its 409.
            found = await duplicates_of(session, [CustomerKeys.of(values) for values in rows])
            match = next((matches[0] for matches in found if matches), None)
            if match is None:
                raise
            raise duplicate_error(match) from None
        await audit.record_batch(
            session,
            actor=actor,
            batch_type="customer_import",
            batch_id=codes[0],
            action="import",
            summary={"file": filename, "mode": mode}
            | report.model_dump(include={"rows", "valid", "invalid", "created"})
            | {"codes": f"{codes[0]}..{codes[-1]}"},
        )
    return report
