"""The rows of a file, read and checked in chunks, then written through the entity's domain service.

Memory stays flat whatever the file's size: a chunk is parsed and checked against the create schema in a worker
thread, written, and let go (the session forgets its objects) before the next is read.
"""

import itertools
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from crm_api.core.errors import DomainError, InvalidInput, InvalidItems
from crm_api.core.permissions import Principal
from crm_api.customers.columns import CUSTOM_FIELD_COLUMN
from crm_api.imports.entities import EntityImport
from crm_api.imports.reader import FileFormat, cell_text, file_rows, too_many_rows

HEADER_ROW = 1
# The key of the active custom field a header names (by key, label or `custom_fields.<key>`), None when it names none.
CustomFieldHeader = Callable[[str], str | None]
# A batch this small that the service refuses is written row by row, to tell which rows it refuses.
ONE_BY_ONE = 4
VALUE_CHARS = 500
REASON_CHARS = 1000


@dataclass(frozen=True)
class RowError:
    row: int
    # The header as the file writes it ("" for the row as a whole).
    column: str
    value: str | None
    reason: str
    # The field the column names (the row's own errors: "row").
    field: str
    # The record the row would duplicate, as the API shows it.
    duplicate: dict[str, Any] | None = None


@dataclass
class FileRow:
    number: int
    data: BaseModel
    # field -> the cell's text, for the error report.
    texts: dict[str, str]


@dataclass
class Chunk:
    rows: list[FileRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    # Data rows read, blank ones skipped.
    read: int = 0


@dataclass
class Tally:
    rows: int = 0
    created: int = 0
    updated: int = 0
    failed: int = 0
    # Not stored yet; with the `stored` ones at most `max_errors` of them. `failed` counts every rejected row.
    errors: list[RowError] = field(default_factory=list)
    stored: int = 0
    max_errors: int = 10_000

    def reject(self, errors: list[RowError]) -> None:
        self.failed += len({error.row for error in errors})
        room = self.max_errors - self.stored - len(self.errors)
        self.errors += errors[: max(room, 0)]

    def take_errors(self) -> list[RowError]:
        """The errors to store now, in file order; they count as stored from then on."""
        taken = sorted(self.errors, key=lambda error: error.row)
        self.stored += len(taken)
        self.errors = []
        return taken


def no_custom_field(_header: str) -> None:
    return None


class RowReader:
    """The file's rows after its header, checked against the entity's row schema: no database, so it runs in a
    worker thread. The header names every column, or the file is refused (422) before anything is read."""

    def __init__(
        self,
        spec: EntityImport,
        path: Path,
        file_format: FileFormat,
        *,
        labels: dict[str, dict[str, str]],
        max_rows: int,
        custom_field_key: CustomFieldHeader = no_custom_field,
    ) -> None:
        self.spec = spec
        self._labels = labels
        self._custom_field_key = custom_field_key
        self._max_rows = max_rows
        self._rows = file_rows(path, file_format, spec.noun, max_rows=max_rows)
        self._number = HEADER_ROW
        self._read = 0
        try:
            self.columns, self.headers = self._header(next(self._rows, []))
        except BaseException:
            self.close()
            raise
        self._data = self._data_rows()

    def close(self) -> None:
        self._rows.close()

    def _header(self, cells: list[Any]) -> tuple[dict[int, str], dict[str, str]]:
        """Column index -> field, and field -> header as written; an unknown column is a 422, so no data is dropped."""
        columns, headers, unknown = {}, {}, []
        for index, cell in enumerate(cells):
            text = cell_text(cell)
            if text is None:
                continue
            name = self.spec.column_for(text)
            if name is None and (key := self._custom_field_key(text)) is not None:
                name = CUSTOM_FIELD_COLUMN + key
            if name is None:
                unknown.append(text)
            elif name not in self.spec.ignored:
                columns[index], headers[name] = name, text
        noun = self.spec.noun
        if unknown:
            raise InvalidInput("file", f"Unknown columns: {', '.join(unknown)}", code=f"{noun}_import.unknown_columns")
        for name in self.spec.required():
            if name not in headers:
                raise InvalidInput("file", f"The file has no {name} column", code=f"{noun}_import.no_{name}_column")
        return columns, headers

    def _data_rows(self) -> Iterator[dict[str, str]]:
        """Each non-empty row's texts by field, numbered and counted against the row limit."""
        for cells in self._rows:
            self._number += 1
            texts = {self.columns[i]: text for i, cell in enumerate(cells) if i in self.columns and (text := cell_text(cell))}
            if not texts:
                continue
            self._read += 1
            if self._read > self._max_rows:
                raise too_many_rows(self.spec.noun, self._max_rows)
            yield texts

    def next_chunk(self, size: int) -> Chunk | None:
        """Up to `size` more data rows, None at the end of the file."""
        chunk = Chunk()
        for texts in self._data:
            chunk.read += 1
            self._check(chunk, texts)
            if chunk.read == size:
                break
        return chunk if chunk.read else None

    def skip(self, rows: int) -> None:
        """Passes over the next `rows` data rows unchecked: those a stopped run already wrote."""
        for _ in itertools.islice(self._data, rows):
            pass

    def _check(self, chunk: Chunk, texts: dict[str, str]) -> None:
        values: dict[str, Any] = {}
        errors = []
        for name, text in texts.items():
            if name.startswith(CUSTOM_FIELD_COLUMN):  # typed and checked by the service, as in a create
                values.setdefault("custom_fields", {})[name.removeprefix(CUSTOM_FIELD_COLUMN)] = text
                continue
            category = self.spec.dictionary.get(name)
            if category is not None:
                text = self._labels.get(category, {}).get(text, text)
            try:
                values[name] = self.spec.cell(name, text)
            except (ValueError, RecursionError) as exc:  # RecursionError: custom_fields JSON nested too deep
                errors.append(self.error(self._number, name, texts, str(exc)))
        try:
            data = self.spec.row.model_validate(values)
        except ValidationError as exc:
            for problem in exc.errors():
                name = str(problem["loc"][0]) if problem["loc"] else "row"
                errors.append(self.error(self._number, name, texts, problem["msg"]))
        if errors:
            chunk.errors += errors
        else:
            chunk.rows.append(FileRow(self._number, data, texts))

    def error(self, row: int, name: str, texts: dict[str, str], reason: str, duplicate: BaseModel | None = None) -> RowError:
        value = texts.get(name)
        return RowError(
            row=row,
            column=self.headers.get(name, "" if name == "row" else name),
            value=storable(value[:VALUE_CHARS]) if value is not None else None,
            reason=storable(reason[:REASON_CHARS]),
            field=name,
            duplicate=duplicate.model_dump() if duplicate is not None else None,
        )


class RowWriter:
    """Writes checked rows through the entity's service: an external_id already stored updates its record.

    Each row runs in a savepoint, so a row the service refuses (a rule, a data scope, a duplicate) is reported and
    undone alone; the rows that create records first try the entity's batch create, all at once.
    """

    def __init__(self, spec: EntityImport, actor: Principal, reader: RowReader, tally: Tally) -> None:
        self.spec = spec
        self.actor = actor
        self.reader = reader
        self.tally = tally
        # external_id -> the row that first carried it: a second row with it is a duplicate within the file.
        self._seen: dict[str, int] = {}
        # What the entity's screen remembers of the rows before (for customers: a key -> the row that first had it).
        self._earlier: dict[Any, int] = {}

    async def write(self, session: AsyncSession, chunk: Chunk) -> None:
        self.tally.rows += chunk.read
        self.tally.reject(chunk.errors)
        rows = [row for row in chunk.rows if self._first_of_its_id(row)]
        existing = await self.spec.existing(session, [external_id for row in rows if (external_id := _external_id(row))])
        creates = [row for row in rows if _external_id(row) not in existing]
        updates = [(row, existing[external_id]) for row in rows if (external_id := _external_id(row)) in existing]
        await self._create(session, await self._screened(session, creates))
        await self._update(session, updates)
        session.expunge_all()  # the chunk's records are written: keep none of them in memory

    async def _update(self, session: AsyncSession, updates: list[tuple[FileRow, int]]) -> None:
        fields = self.reader.headers.keys()
        for row, record_id in updates:
            update = partial(self.spec.update, session, self.actor, record_id, row.data, fields)
            self.tally.updated += await self._attempt(session, row, update)

    async def _screened(self, session: AsyncSession, rows: list[FileRow]) -> list[FileRow]:
        """The rows the entity's screen lets through (a customer duplicating a live one or an earlier row is not)."""
        if self.spec.screen is None or not rows:
            return rows
        refused = await self.spec.screen(session, [(row.number, row.data) for row in rows], self._earlier)
        for row in rows:
            if row.number in refused:
                name, reason, duplicate = refused[row.number]
                self.tally.reject([self.reader.error(row.number, name, row.texts, reason, duplicate)])
        return [row for row in rows if row.number not in refused]

    def _first_of_its_id(self, row: FileRow) -> bool:
        external_id = _external_id(row)
        if external_id is None:
            return True
        first = self._seen.setdefault(external_id, row.number)
        if first == row.number:
            return True
        self.tally.reject([self.reader.error(row.number, "external_id", row.texts, f"external_id is also on row {first}")])
        return False

    async def _create(self, session: AsyncSession, rows: list[FileRow]) -> None:
        """The rows through the batch create. Rows it refuses by name (InvalidItems) are reported and the rest written
        without them; a batch it refuses as a whole (a unique value taken meanwhile) is halved until the refused rows
        are alone, so a few bad rows cost a few small batches and those rows' own creates."""
        if self.spec.create_many is None or len(rows) <= ONE_BY_ONE:
            for row in rows:
                self.tally.created += await self._attempt(session, row, partial(self.spec.create, session, self.actor, row.data))
            return
        refusal = await _in_savepoint(session, partial(self.spec.create_many, session, self.actor, [row.data for row in rows]))
        if refusal is None:
            self.tally.created += len(rows)
            return
        if isinstance(refusal, InvalidItems):
            for index, refused in refusal.refused.items():
                self.tally.reject(self._errors_of(rows[index], refused))
            await self._create(session, [row for index, row in enumerate(rows) if index not in refusal.refused])
            return
        half = len(rows) // 2
        await self._create(session, rows[:half])
        await self._create(session, rows[half:])

    async def _attempt(self, session: AsyncSession, row: FileRow, write: Callable[[], Awaitable[object]]) -> bool:
        """Whether the row was written; if not, its errors are in the tally and nothing of it stays."""
        refusal = await _in_savepoint(session, write)
        if refusal is not None:
            self.tally.reject(self._errors_of(row, refusal))
        return refusal is None

    def _errors_of(self, row: FileRow, exc: Exception) -> list[RowError]:
        if isinstance(exc, InvalidInput):
            return [self.reader.error(row.number, error.field, row.texts, error.message) for error in exc.errors]
        if isinstance(exc, DomainError):
            return [self.reader.error(row.number, "row", row.texts, exc.detail or exc.title)]
        if isinstance(exc, IntegrityError):
            return [self.reader.error(row.number, "row", row.texts, "A value that must be unique is already taken")]
        return [self.reader.error(row.number, "row", row.texts, "The record was changed meanwhile; import the row again")]


def storable(text: str) -> str:
    """Text PostgreSQL keeps: a NUL (which a file may hold, and which is why its row was refused) is shown as \\0."""
    return text.replace("\x00", "\\0")


async def _in_savepoint(session: AsyncSession, write: Callable[[], Awaitable[object]]) -> Exception | None:
    """Why the service refused the write, which left nothing behind; None when it is written."""
    savepoint = await session.begin_nested()
    try:
        await write()
        await session.flush()
    except (DomainError, IntegrityError, StaleDataError) as exc:
        await savepoint.rollback()
        return exc
    await savepoint.commit()
    return None


def _external_id(row: FileRow) -> str | None:
    value = getattr(row.data, "external_id", None)
    return value if isinstance(value, str) else None
