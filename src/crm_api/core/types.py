"""Column types that behave the same on SQLite and PostgreSQL."""

import json
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    Float,
    Integer,
    Numeric,
    Select,
    String,
    Uuid,
    case,
    func,
    literal_column,
    null,
    select,
    text,
)
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

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        # asyncpg hands every timestamptz over in UTC: no call per value, on every row a page or a sync reads.
        if dialect.driver == "asyncpg":
            return None
        return super().result_processor(dialect, coltype)

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
        # PostgreSQL's numeric comes as a Decimal; SQLite's as a float, exact only through its shortest text.
        exact = value if isinstance(value, Decimal) else Decimal(str(value))
        return exact.quantize(self.quantum, rounding=ROUND_HALF_UP)


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


class listed_records(FunctionElement[list[dict[str, Any]]]):
    """The rows a select of labelled columns finds, in its order, as one JSON column of the enclosing select: a list of
    dicts by label, each value as a representation validates it (a datetime in UTC, money with its places). Its
    parameters are the enclosing statement's: the customer 360 reads a customer and its sections in one statement.
    Columns of a type whose Python value JSON would not give back (an Enum, another TypeDecorator) are refused."""

    type = JSON()
    inherit_cache = True
    name = "listed_records"

    def __init__(self, rows: Select[Any]) -> None:
        super().__init__(rows.scalar_subquery())


def _record_object(element: listed_records, dialect: str) -> tuple[Any, ColumnElement[Any]]:
    """The select's rows as a derived table, and the JSON object of one of them (json_build_object, json_object)."""
    rows = element.clauses.clauses[0].element.subquery("listed")
    pairs: list[ColumnElement[Any]] = []
    for column in rows.c:
        if not column.key.isidentifier():
            raise ValueError(f"label {column.key!r} is not a name")
        pairs += [literal_column(f"'{column.key}'"), _json_value(column, dialect)]
    build = func.json_build_object if dialect == "postgresql" else func.json_object
    return rows, build(*pairs)


def _json_value(column: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    kind = column.type
    if isinstance(kind, UTCDateTime):
        if dialect == "postgresql":
            utc = func.timezone(literal_column("'UTC'"), column)
            return func.to_char(utc, literal_column("""'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'"""))
        return column.op("||")(literal_column("'Z'"))  # SQLite holds it as naive UTC text
    if isinstance(kind, ExactDecimal):
        if kind.quantum != CENT:
            raise TypeError(f"{column.key}: only money (two places) is written as JSON text")
        return case((column.is_(None), null()), else_=money_text(column))
    if isinstance(kind, JSON):
        return column if dialect == "postgresql" else func.json(column)  # SQLite holds a document as text
    if isinstance(kind, TypeDecorator) or not isinstance(kind, String | Integer | Boolean | Float | Date | Uuid):
        raise TypeError(f"{column.key}: a {kind!r} column is not read back from JSON as it is from a row")
    return column


@compiles(listed_records, "postgresql")
def _listed_records_as_json(element: listed_records, compiler: SQLCompiler, **kw: Any) -> str:
    # ARRAY(…) keeps the derived table's order, as `listed` does.
    rows, record = _record_object(element, "postgresql")
    return "array_to_json(ARRAY" + compiler.process(select(record).select_from(rows).scalar_subquery(), **kw) + ")"


@compiles(listed_records)
def _listed_records_as_json_array(element: listed_records, compiler: SQLCompiler, **kw: Any) -> str:
    rows, record = _record_object(element, compiler.dialect.name)
    return compiler.process(select(func.json_group_array(record)).select_from(rows).scalar_subquery(), **kw)
