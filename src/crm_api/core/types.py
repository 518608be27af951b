"""Column types that behave the same on SQLite and PostgreSQL."""

import json
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, cast

from sqlalchemy import JSON, BigInteger, DateTime, Integer, Numeric, Select, String, func, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

# BIGINT on PostgreSQL; SQLite only auto-increments a column declared INTEGER.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")

# A JSON document a query looks into (custom fields): JSONB on PostgreSQL, so a GIN index answers `@>`; JSON elsewhere.
JsonDocument = JSON().with_variant(JSONB(), "postgresql")
# Its default in the database, for rows written by SQL that does not name it (bulk loads).
EMPTY_DOCUMENT = text("'{}'")

CENT = Decimal("0.01")


def to_money(value: Decimal | int | str) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out; SQLite would otherwise hand back naive values."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class ExactDecimal(TypeDecorator[Decimal]):
    """NUMERIC(precision, scale) as Decimal with exactly `scale` places, whatever the driver returns."""

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int = 14, scale: int = 2) -> None:
        super().__init__(precision, scale)
        self.quantum = Decimal(1).scaleb(-scale)

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        # SQLite has no decimal type: bind exact text rather than a binary float.
        numeric = cast("Numeric[Decimal]", self.impl_instance)
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Numeric(numeric.precision, numeric.scale, asdecimal=False))
        return dialect.type_descriptor(Numeric(numeric.precision, numeric.scale, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        exact = Decimal(value).quantize(self.quantum, rounding=ROUND_HALF_UP)
        return str(exact) if dialect.name == "sqlite" else exact

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value)).quantize(self.quantum, rounding=ROUND_HALF_UP)


def Money() -> ExactDecimal:
    return ExactDecimal(14, 2)


class money_text(FunctionElement[str]):
    """A money expression as text with two places ("1000.10"), as the API writes money, built in SQL on either
    database (SQLite holds NUMERIC as a binary float, so its own text would be "1000.1")."""

    type = String()
    inherit_cache = True


@compiles(money_text, "sqlite")
def _money_text_sqlite(element: money_text, compiler: Any, **kw: Any) -> str:
    return f"printf('%.2f', {compiler.process(element.clauses, **kw)})"


@compiles(money_text, "postgresql")
def _money_text_postgresql(element: money_text, compiler: Any, **kw: Any) -> str:
    return f"CAST(ROUND(CAST({compiler.process(element.clauses, **kw)} AS NUMERIC), 2) AS TEXT)"


class TextList(TypeDecorator[list[str]]):
    """A list of text read as one column: PostgreSQL hands an array over, SQLite a JSON array."""

    impl = String
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> list[str]:
        if value is None:
            return []
        return json.loads(value) if isinstance(value, str) else list(value)


class listed(FunctionElement[list[str]]):
    """What a one-column select finds for the enclosing select's row (which it correlates to), in the select's order,
    as one column of that row: a page of records with their tags or roles is one statement, not a page and then its
    lists."""

    type = TextList()
    inherit_cache = True
    name = "listed"

    def __init__(self, values: Select[str]) -> None:
        super().__init__(values.correlate_except(None).scalar_subquery())


@compiles(listed, "postgresql")
def _listed_as_array(element: listed, compiler: SQLCompiler, **kw: Any) -> str:
    return "ARRAY" + compiler.process(element.clauses, **kw)


@compiles(listed)
def _listed_as_json_array(element: listed, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite's json_group_array takes no ORDER BY: it aggregates the ordered select's rows in their order.
    values = element.clauses.clauses[0].element.subquery()
    return compiler.process(select(func.json_group_array(*values.c)).scalar_subquery(), **kw)
