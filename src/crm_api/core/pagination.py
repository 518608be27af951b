"""Keyset pagination: an opaque cursor over a stable sort, no OFFSET; the `sort` and `updated_since` every list takes."""

import base64
import binascii
import json
import math
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum, StrEnum, auto
from typing import Annotated, Any, Generic, NamedTuple, TypeVar
from weakref import WeakKeyDictionary

from fastapi import Depends, Query
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import ColumnElement, Engine, Select, TypeDecorator, bindparam, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import KeyedColumnElement

from crm_api.core.db import read_rows, records
from crm_api.core.errors import InvalidInput
from crm_api.core.schemas import MAX_ID

T = TypeVar("T")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page; null on the last page")
    total: int | None = Field(default=None, description="Only when `with_total=true`")


@dataclass(frozen=True)
class PageParams:
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None
    with_total: bool = False
    # `key` ascending or `-key` descending, one of the list's declared keys; None: the list's own order.
    sort: str | None = None
    # Only records changed (else created) at or after this instant.
    updated_since: datetime | None = None


Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")]
# A real cursor is a few sort keys: a longer one is crafted, and is refused before it is decoded.
Cursor = Annotated[str | None, Query(max_length=1024, description="`next_cursor` of the previous page")]


async def _cursor_params(limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> PageParams:
    # Async, as every page dependency: FastAPI runs a plain function in a worker thread, on every request.
    return PageParams(limit=limit, cursor=cursor)


WithTotal = Annotated[bool, Query(description="Also count all matching items")]
UpdatedSince = Annotated[
    AwareDatetime | None,
    Query(
        description="Only records changed at or after this instant (their `updated_at`, else when they were created), "
        "with its UTC offset: an integrator's incremental sync passes the time its previous sync started"
    ),
]


def listing(name: str, *keys: str) -> Any:
    """The page parameters of a list of records sortable by `keys` (columns of the record, never null), as a
    FastAPI dependency: `page: Annotated[PageParams, listing("CustomerSort", "name", "updated_at")]`. `sort`
    is documented as the enum `name` (`key` ascending, `-key` descending); every sort breaks ties on the id."""
    sort_key: Any = StrEnum(name, [(value, value) for key in keys for value in (key, f"-{key}")])  # type: ignore[misc]  # named per list
    sort_key.__doc__ = "`key` ascending, `-key` descending"

    async def sorted_(
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        with_total: WithTotal = False,
        updated_since: UpdatedSince = None,
        sort: Annotated[
            sort_key | None,
            Query(description="`key` ascending, `-key` descending, ties broken by id; a cursor keeps its sort"),
        ] = None,
    ) -> PageParams:
        return PageParams(
            limit=limit, cursor=cursor, with_total=with_total, sort=sort.value if sort else None, updated_since=updated_since
        )

    return Depends(sorted_)


async def _page_params(limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None, with_total: WithTotal = False) -> PageParams:
    return PageParams(limit=limit, cursor=cursor, with_total=with_total)


# A computed list (pairs, report rows) in its own order: it has no records that change, so no sort or updated_since.
PageDep = Annotated[PageParams, Depends(_page_params)]
# Pages of a result that reports its own totals.
CursorPageDep = Annotated[PageParams, Depends(_cursor_params)]


@dataclass(frozen=True)
class Sort:
    """Sort keys of one direction; the last key must be unique (usually the id)."""

    keys: Sequence[InstrumentedAttribute[Any] | KeyedColumnElement[Any]]
    descending: bool = True

    def order_by(self) -> list[ColumnElement[Any]]:
        return [key.desc() if self.descending else key.asc() for key in self.keys]


def _encode(values: Sequence[Any]) -> str:
    def plain(value: Any) -> Any:
        if isinstance(value, datetime | date):
            return value.isoformat()
        if isinstance(value, Decimal):
            return str(value)
        return value

    raw = json.dumps([plain(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, sort: Sort, sort_name: str | None) -> list[Any]:
    """The key values of the cursor's last row; 422 for a cursor of another list, or of another sort of this one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        named, *values = json.loads(raw)
        if named != sort_name:
            raise ValueError("another sort")
        if len(values) != len(sort.keys):
            raise ValueError("wrong arity")
        decoded: list[Any] = []
        for key, value in zip(sort.keys, values, strict=True):
            # A TypeDecorator (UTCDateTime, Money) names no Python type of its own: its column type does.
            column_type = key.type.impl_instance if isinstance(key.type, TypeDecorator) else key.type
            python_type = column_type.python_type
            if value is None:
                decoded.append(None)
            elif python_type is datetime:
                decoded.append(datetime.fromisoformat(value))
            elif python_type is date:
                decoded.append(date.fromisoformat(value))
            else:
                decoded.append(_in_range(python_type(value)))
        return decoded
    except (ValueError, TypeError, ArithmeticError, RecursionError, binascii.Error, NotImplementedError) as exc:
        raise InvalidInput("cursor", "The cursor is not valid for this list", code="pagination.invalid_cursor") from exc


def _in_range(value: Any) -> Any:
    """A key value the database can compare: a 64-bit integer, a finite number, text without NUL."""
    if isinstance(value, int) and not -MAX_ID - 1 <= value <= MAX_ID:
        raise ValueError("integer out of range")
    if isinstance(value, float | Decimal) and not math.isfinite(value):
        raise ValueError("not a finite number")
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("NUL in text")
    return value


class Rows(NamedTuple):
    """One page of rows, before they are turned into response items."""

    rows: list[Any]
    next_cursor: str | None
    total: int | None

    def to_page(self, convert: Callable[[Any], T]) -> Page[T]:
        return Page(items=[convert(row) for row in self.rows], next_cursor=self.next_cursor, total=self.total)


# The column that says when a record last changed: the first of these its table has.
CHANGE_COLUMNS = ("updated_at", "synced_at", "created_at", "occurred_at", "at", "started_at")


def changed_at(entity: Any) -> InstrumentedAttribute[Any]:
    """`updated_since` compares with this column of the listed record."""
    for name in CHANGE_COLUMNS:
        if name in entity.__table__.c:
            column: InstrumentedAttribute[Any] = getattr(entity, name)
            return column
    raise TypeError(f"{entity.__name__} has no column saying when it changed")


def sorted_by(entity: Any, sort_name: str) -> Sort:
    """`key` / `-key` as keyset sort keys: the column, then the id, both one way."""
    name = sort_name.removeprefix("-")
    if entity.__table__.c[name].nullable:
        # A NULL compares as unknown in the keyset's row comparison: pages would skip those rows.
        raise TypeError(f"{entity.__name__}.{name} may be null: it cannot be a sort key")
    return Sort([getattr(entity, name), entity.id], descending=sort_name.startswith("-"))


class _PageStatements(NamedTuple):
    """A list's statement as one shape of page runs it: `since`, narrowed by `updated_since` (what a total counts;
    None: the list's statement itself, never held here, or the cache would keep it alive), then `keyed` after the
    cursor, in `sort` order and limited; every value is a named parameter (`_page_values`). In a window (`Window`),
    `keyed` reads the rows above its floor, and `older` those below it."""

    since: Select[Any] | None
    keyed: Select[Any]
    sort: Sort
    older: Select[Any] | None = None


@dataclass(frozen=True)
class Window:
    """How a page of a list in its own order, newest id first, reads the rows a filter matches when PostgreSQL
    cannot tell how many it matches (a substring: a name's, a phone's). No one plan is right for every filter.
    Walking the table newest first is right for a common term (有限公司 is in every other name) and takes a second
    for a term found ten times in a million rows. Collecting every match through the trigram indexes and sorting
    them is right for a rare term and takes a second for a common one. Which plan a term gets depends on the last
    ANALYZE's sample. So a page first walks the `rows` newest ids below the cursor (the floor is where they end;
    the walk costs at most `rows` rows), and only if they hold less than a page does a second statement read the
    matches below the floor, through the filter's indexes, and sort them. A term rare enough to need it has few
    matches to sort."""

    rows: int


PAGE_FLOOR = "page_floor"
# Where a window without a cursor starts: below the table's newest id, read again after this many seconds. A stale
# one only moves the floor: the rows added since widen the walk, and the page holds the same rows either way.
NEWEST_ID_SECONDS = 60.0
_NEWEST_IDS: WeakKeyDictionary[Engine, dict[str, tuple[int, float]]] = WeakKeyDictionary()


async def _newest_id(session: AsyncSession, key: KeyedColumnElement[Any] | InstrumentedAttribute[Any]) -> int:
    """The highest value of the id column `key` in this database, at most NEWEST_ID_SECONDS old."""
    known = _NEWEST_IDS.setdefault(session.get_bind().engine, {})
    name = str(key)
    newest, read_at = known.get(name, (0, -math.inf))
    if time.monotonic() - read_at > NEWEST_ID_SECONDS:
        newest = int(await session.scalar(select(func.max(key))) or 0)
        known[name] = (newest, time.monotonic())
    return newest


PAGE_LIMIT = "page_limit"
PAGE_SINCE = "page_updated_since"
PAGE_AFTER = "page_after_{}"
# Page statements per list statement and page shape. A list statement a service keeps (built once per scope shape)
# keeps its page statements, so SQLAlchemy's cache key of each is computed once; one built per request takes its
# entries along when it goes. At most this many shapes each: a sort key built per request would otherwise pile up.
_PAGE_STATEMENTS: WeakKeyDictionary[Select[Any], dict[Hashable, _PageStatements]] = WeakKeyDictionary()
MAX_PAGE_SHAPES = 64


def _page_statements(statement: Select[Any], params: PageParams, sort: Sort, window: Window | None) -> _PageStatements:
    shape = (tuple(sort.keys), sort.descending, params.sort, bool(params.cursor), params.updated_since is not None, window)
    built = _PAGE_STATEMENTS.setdefault(statement, {})
    statements = built.get(shape)
    if statements is None:
        if len(built) >= MAX_PAGE_SHAPES:
            built.clear()
        statements = built[shape] = _build_page_statements(statement, params, sort, window)
    return statements


def first_page_statements(
    statement: Select[Any], sort: Sort, window: Window | None = None
) -> tuple[Select[Any], Select[Any] | None]:
    """The statements of a first page of `statement` in `sort`: the page's, and a window's older matches (None: no
    window). Their parameters are PAGE_LIMIT, PAGE_FLOOR and the statement's own: the bench runs them raw."""
    _, keyed, _, older = _page_statements(statement, PageParams(), sort, window)
    return keyed, older


def _build_page_statements(statement: Select[Any], params: PageParams, sort: Sort, window: Window | None) -> _PageStatements:
    if params.sort is not None or params.updated_since is not None:
        entity = statement.column_descriptions[0]["entity"]
        if params.updated_since is not None:
            changed = changed_at(entity)
            statement = statement.where(changed >= bindparam(PAGE_SINCE, type_=changed.type))
        if params.sort is not None:
            sort = sorted_by(entity, params.sort)
    keyed = statement
    if params.cursor:
        columns = tuple_(*sort.keys)
        after = tuple_(*(bindparam(PAGE_AFTER.format(index), type_=key.type) for index, key in enumerate(sort.keys)))
        keyed = keyed.where(columns < after if sort.descending else columns > after)
    since = statement if params.updated_since is not None else None
    ordered = keyed.order_by(*sort.order_by()).limit(bindparam(PAGE_LIMIT))
    if window is None:
        return _PageStatements(since, ordered, sort)
    [key] = sort.keys
    if not sort.descending:
        raise TypeError("a window walks a list in its own order, newest id first")
    floor = bindparam(PAGE_FLOOR, type_=key.type)
    # The matches below the floor, every one (no order to walk by, so the filter's indexes find them), then the
    # newest of them: MATERIALIZED keeps PostgreSQL from folding them back into a walk by id (SQLite, which has no
    # such indexes, takes the keyword only from 3.35 on).
    matched = keyed.with_only_columns(key).where(key <= floor).cte("matched")
    matched = matched.prefix_with("MATERIALIZED", dialect="postgresql")
    newest_matched = select(matched.c[0]).order_by(matched.c[0].desc()).limit(bindparam(PAGE_LIMIT))
    return _PageStatements(since, ordered.where(key > floor), sort, ordered.where(key.in_(newest_matched)))


def _page_values(params: PageParams, sort: Sort) -> dict[str, Any]:
    """The page's own named parameters: one row more than the page (to tell whether there is a next), the cursor's
    key values, the instant of `updated_since`."""
    values: dict[str, Any] = {PAGE_LIMIT: params.limit + 1}
    if params.cursor:
        after = _decode(params.cursor, sort, params.sort)
        values |= {PAGE_AFTER.format(index): value for index, value in enumerate(after)}
    if params.updated_since is not None:
        values[PAGE_SINCE] = params.updated_since
    return values


class PageRows(Enum):
    """What a list's statement selects, and so how a page reads its rows."""

    ENTITIES = auto()  # one entity: the page holds the objects
    COLUMNS = auto()  # columns, each labelled with its name: plain rows, without the ORM's loading (`read_rows`)
    # As COLUMNS, each row a dict of name → value, what a response model validates from: made five times faster than
    # a Row's `_asdict()`, which cost a page of customers a tenth of its instructions.
    RECORDS = auto()
    ENTITY_AND_COLUMNS = auto()  # an entity, then columns about it: rows whose first item is the object


async def _read_page(session: AsyncSession, keyed: Select[Any], values: dict[str, Any], rows: PageRows) -> list[Any]:
    if rows is PageRows.ENTITIES:
        return list((await session.scalars(keyed, values)).all())
    if rows is PageRows.ENTITY_AND_COLUMNS:
        return list((await session.execute(keyed, values)).all())
    result = await read_rows(session, keyed, values)
    return records(result) if rows is PageRows.RECORDS else list(result.all())


async def paginate(
    session: AsyncSession,
    statement: Select[*tuple[Any, ...]],
    params: PageParams,
    sort: Sort,
    *,
    rows: PageRows = PageRows.ENTITIES,
    parameters: Mapping[str, Any] | None = None,
    window: Window | None = None,
) -> Rows:
    """Rows of one page, the cursor of the next page, and the total when asked for. `sort` is the list's own order;
    `params.sort` and `params.updated_since` apply to the record the statement selects first; `parameters` are the
    values of its named parameters. `window`: how a page in the list's own order reads a filter's matches
    (`Window`); a page in another sort reads them as any other."""
    window = window if params.sort is None else None
    since, keyed, sort, older = _page_statements(statement, params, sort, window)
    counted = since if since is not None else statement
    values = {**(parameters or {}), **_page_values(params, sort)}
    total = None
    if params.with_total:
        total = await session.scalar(select(func.count()).select_from(counted.order_by(None).subquery()), values)
    if window is not None:
        # The walk reads the ids from the one before the cursor's (or the newest) down to the floor, exclusive.
        newest = values[PAGE_AFTER.format(0)] - 1 if params.cursor else await _newest_id(session, sort.keys[0])
        values[PAGE_FLOOR] = max(newest - window.rows, -MAX_ID - 1)  # a crafted cursor's id may be the lowest there is
    found = await _read_page(session, keyed, values, rows)
    if older is not None and len(found) <= params.limit:
        found += await _read_page(session, older, values, rows)
    next_cursor = None
    if len(found) > params.limit:
        found = found[: params.limit]
        last: Any = found[-1]
        if rows is PageRows.RECORDS:
            keys = [last[key.key] for key in sort.keys]
        else:
            entity = last[0] if rows is PageRows.ENTITY_AND_COLUMNS else last
            keys = [getattr(entity, key.key) for key in sort.keys]
        next_cursor = _encode([params.sort, *keys])
    return Rows(found, next_cursor, total)
