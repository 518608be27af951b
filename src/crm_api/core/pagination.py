"""Keyset pagination: an opaque cursor over a stable sort, no OFFSET."""

import base64
import binascii
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, NamedTuple, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import KeyedColumnElement

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


Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")]
# A real cursor is a few sort keys: a longer one is crafted, and is refused before it is decoded.
Cursor = Annotated[str | None, Query(max_length=1024, description="`next_cursor` of the previous page")]


def _page_params(
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    with_total: Annotated[bool, Query(description="Also count all matching items")] = False,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor, with_total=with_total)


def _cursor_params(limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


PageDep = Annotated[PageParams, Depends(_page_params)]
# Pages of a result that reports its own totals.
CursorPageDep = Annotated[PageParams, Depends(_cursor_params)]


@dataclass(frozen=True)
class Sort:
    """Sort keys of one direction; the last key must be unique (usually the id)."""

    keys: Sequence[InstrumentedAttribute[Any] | KeyedColumnElement[Any]]
    descending: bool = True


def _encode(values: Sequence[Any]) -> str:
    def plain(value: Any) -> Any:
        if isinstance(value, datetime | date):
            return value.isoformat()
        if isinstance(value, Decimal):
            return str(value)
        return value

    raw = json.dumps([plain(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, sort: Sort) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(sort.keys):
            raise ValueError("wrong arity")
        decoded: list[Any] = []
        for key, value in zip(sort.keys, values, strict=True):
            python_type = key.type.python_type
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


async def paginate(
    session: AsyncSession, statement: Select[*tuple[Any, ...]], params: PageParams, sort: Sort, *, scalars: bool = True
) -> Rows:
    """Rows of one page, the cursor of the next page, and the total when asked for."""
    total = None
    if params.with_total:
        total = await session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    keyed = statement
    if params.cursor:
        after = _decode(params.cursor, sort)
        columns = tuple_(*sort.keys)
        keyed = keyed.where(columns < tuple_(*after) if sort.descending else columns > tuple_(*after))
    order = [key.desc() if sort.descending else key.asc() for key in sort.keys]
    keyed = keyed.order_by(*order).limit(params.limit + 1)
    result = await session.execute(keyed)
    rows = list(result.scalars().all() if scalars else result.all())
    next_cursor = None
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        last = rows[-1]
        next_cursor = _encode([getattr(last, key.key) for key in sort.keys])
    return Rows(rows, next_cursor, total)
