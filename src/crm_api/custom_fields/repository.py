"""Custom field queries: definitions, and conditions on the `custom_fields` document of the entities that have one."""

import hashlib
import re
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Dialect,
    Select,
    and_,
    column,
    exists,
    func,
    literal,
    select,
    text,
    true,
    type_coerce,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.sqltypes import NullType
from sqlalchemy.sql.visitors import InternalTraversal

from crm_api.core.db import advisory_key
from crm_api.core.orm import RUNTIME_INDEX_PREFIX, Base
from crm_api.core.repository import Repository
from crm_api.custom_fields.policy import CustomFieldEntity, CustomFieldType
from crm_api.custom_fields.schemas import KEY_PATTERN
from crm_api.models.custom_field import CustomFieldDefinition
from crm_api.models.customer import Contact, Customer
from crm_api.models.pipeline import Lead, Opportunity
from crm_api.models.platform import DictionaryItem
from crm_api.models.ticket import ServiceTicket

# PostgreSQL's longest name.
MAX_NAME = 63
MODELS: dict[CustomFieldEntity, type[Base]] = {
    CustomFieldEntity.CUSTOMER: Customer,
    CustomFieldEntity.CONTACT: Contact,
    CustomFieldEntity.LEAD: Lead,
    CustomFieldEntity.OPPORTUNITY: Opportunity,
    CustomFieldEntity.TICKET: ServiceTicket,
}


def document_of(entity: CustomFieldEntity) -> Any:
    """The entity's `custom_fields` column."""
    return MODELS[entity].custom_fields  # type: ignore[attr-defined]  # every model in MODELS maps the column


class DocumentHas(ColumnElement[bool]):
    """The document's `key` holds `value`, or for `in_list`, a list holding it.

    PostgreSQL: `document @> '{"key": value}'` (`[value]` for a list), which a jsonb_path_ops GIN index answers.
    SQLite: JSON_EXTRACT equality, or an EXISTS over JSON_EACH for a list."""

    type = Boolean()
    inherit_cache = False  # the value is part of the SQL built; such statements are not cached
    key: str

    def __init__(self, document: Any, key: str, value: Any, *, in_list: bool = False) -> None:
        self.document, self.key, self.value, self.in_list = document, key, value, in_list


@compiles(DocumentHas)
def _document_has_json(element: DocumentHas, compiler: SQLCompiler, **kw: Any) -> str:
    if element.in_list:
        items = func.json_each(element.document, f'$."{element.key}"').table_valued("value")
        return compiler.process(exists(select(literal(1)).select_from(items).where(items.c.value == element.value)), **kw)
    return compiler.process(FieldValue(element.document, element.key) == element.value, **kw)


@compiles(DocumentHas, "postgresql")
def _document_has_jsonb(element: DocumentHas, compiler: SQLCompiler, **kw: Any) -> str:
    wanted = {element.key: [element.value] if element.in_list else element.value}
    return compiler.process(type_coerce(element.document, JSONB()).contains(wanted), **kw)


def holds(document: Any, key: str, value: Any, *, in_list: bool = False) -> ColumnElement[bool]:
    """The document's `key` holds `value` (`in_list`: a list holding it). A text value (text, choice, date, decimal:
    stored as strings) is compared as the field's index (`field_index`) reads it, in a statement built once and
    cached; a number, a boolean or a list's choice is `DocumentHas`."""
    if isinstance(value, str) and not in_list:
        return FieldValue(document, key) == value
    return DocumentHas(document, key, value, in_list=in_list)


class FieldValue(ColumnElement[Any]):
    """The document's value under `key`: `json_extract(document, '$."key"')` (SQLite: the value as SQL reads it),
    `document ->> 'key'` (PostgreSQL: as text). The key is written into the SQL, not bound: an index on the
    expression answers only a query that spells it the same."""

    type = NullType()
    # The document and the key make the SQL, so a statement holding the value is cached under both. SQLAlchemy reads
    # it off the class; its base declares it an instance attribute, so it cannot be annotated ClassVar.
    _traverse_internals = [  # noqa: RUF012
        ("document", InternalTraversal.dp_clauseelement),
        ("key", InternalTraversal.dp_string),
    ]
    key: str

    def __init__(self, document: Any, key: str) -> None:
        if not re.fullmatch(KEY_PATTERN, key):
            raise ValueError(f"not a custom field key: {key!r}")
        self.document, self.key = document, key


@compiles(FieldValue)
def _field_value_json(element: FieldValue, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_extract({compiler.process(element.document, **kw)}, '$.\"{element.key}\"')"


@compiles(FieldValue, "postgresql")
def _field_value_jsonb(element: FieldValue, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.document, **kw)} ->> '{element.key}')"


def field_index(dialect: Dialect, entity: CustomFieldEntity, key: str) -> tuple[str, str]:
    """PostgreSQL: the name and CREATE statement of the index on a field's value and the record id. A filter on the
    field reads the newest matching records in order, where the GIN index finds all of them to be sorted (2,000 for a
    sales area at a million customers). Built per field while the service runs, so not in the migrations, and
    CONCURRENTLY, without holding up the table's writers."""
    table = MODELS[entity].__table__
    name = f"{RUNTIME_INDEX_PREFIX}{table.name}_{key}"
    if len(name) > MAX_NAME:
        name = f"{name[: MAX_NAME - 9]}_{hashlib.sha256(name.encode()).hexdigest()[:8]}"
    value = FieldValue(column("custom_fields"), key).compile(dialect=dialect)
    return name, f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table.name} ({value}, id)"


class DocumentHasKey(ColumnElement[bool]):
    """The document holds `key` (with a non-null value)."""

    type = Boolean()
    inherit_cache = False

    def __init__(self, document: Any, key: str) -> None:
        self.document, self.key = document, key


@compiles(DocumentHasKey)
def _document_has_key_json(element: DocumentHasKey, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(func.json_extract(element.document, f'$."{element.key}"').is_not(None), **kw)


@compiles(DocumentHasKey, "postgresql")
def _document_has_key_jsonb(element: DocumentHasKey, compiler: SQLCompiler, **kw: Any) -> str:
    value = type_coerce(element.document, JSONB())[element.key]
    return compiler.process(and_(value.is_not(None), func.jsonb_typeof(value) != "null"), **kw)


def live(entity: CustomFieldEntity) -> list[ColumnElement[bool]]:
    """The records of the entity that count: soft-deleted ones do not."""
    deleted_at = getattr(MODELS[entity], "deleted_at", None)
    return [deleted_at.is_(None)] if deleted_at is not None else []


class CustomFieldRepository(Repository[CustomFieldDefinition]):
    model = CustomFieldDefinition

    def of_entity(self, entity: CustomFieldEntity) -> Select[CustomFieldDefinition]:
        return self.select().where(CustomFieldDefinition.entity == entity)

    async def all_of(self, entity: CustomFieldEntity) -> list[CustomFieldDefinition]:
        """Every definition of the entity, active or not, in form order."""
        statement = self.of_entity(entity).order_by(CustomFieldDefinition.sort_order, CustomFieldDefinition.id)
        return list(await self.session.scalars(statement))

    async def all_active(self) -> list[CustomFieldDefinition]:
        """The active fields of every entity."""
        return list(await self.session.scalars(self.select().where(CustomFieldDefinition.active.is_(True))))

    async def find(self, entity: CustomFieldEntity, key: str) -> CustomFieldDefinition | None:
        return await self.session.scalar(self.of_entity(entity).where(CustomFieldDefinition.key == key))

    async def choices(self, categories: set[str]) -> dict[str, list[DictionaryItem]]:
        """Per category, its active items in their order."""
        if not categories:
            return {}
        statement = (
            select(DictionaryItem)
            .where(DictionaryItem.category.in_(categories), DictionaryItem.active.is_(True))
            .order_by(DictionaryItem.sort_order, DictionaryItem.id)
        )
        items: dict[str, list[DictionaryItem]] = {category: [] for category in categories}
        for item in await self.session.scalars(statement):
            items[item.category].append(item)
        return items

    async def with_category(self, category: str) -> list[CustomFieldDefinition]:
        """The fields, of any entity, whose choices are the category's items."""
        return list(await self.session.scalars(self.select().where(CustomFieldDefinition.dictionary_category == category)))

    async def holds_choice(self, definition: CustomFieldDefinition, value: str) -> bool:
        """Whether any record, soft-deleted ones too, holds `value` in the field."""
        model: Any = MODELS[definition.entity]
        in_list = definition.type == CustomFieldType.MULTI_CHOICE
        held = holds(model.custom_fields, definition.key, value, in_list=in_list)
        return await self.session.scalar(select(model.id).where(held).limit(1)) is not None

    async def category_exists(self, category: str) -> bool:
        return bool(await self.session.scalar(select(exists().where(DictionaryItem.category == category))))

    async def hold_field(self, entity: CustomFieldEntity, key: str) -> None:
        """PostgreSQL: hold the unique field until commit, so its concurrent writers check and write one at a time (one
        lock per field, not per value: an import of many rows takes one). SQLite has one writer at a time anyway."""
        if self.session.get_bind().dialect.name != "postgresql":
            return
        await self.session.execute(select(func.pg_advisory_xact_lock(advisory_key(f"custom_field:{entity}:{key}"))))

    async def taken_by(
        self, entity: CustomFieldEntity, key: str, value: Any, *, except_ids: set[int] | frozenset[int] = frozenset()
    ) -> int | None:
        """The id of a live record of the entity whose `key` holds `value`, other than `except_ids`."""
        model: Any = MODELS[entity]
        statement = select(model.id).where(holds(model.custom_fields, key, value), *live(entity))
        if except_ids:
            statement = statement.where(model.id.not_in(except_ids))
        return await self.session.scalar(statement.limit(1))

    async def holders(self, entity: CustomFieldEntity, key: str) -> list[tuple[int, dict[str, Any], bool]]:
        """(id, custom_fields, whether live) of every record of the entity holding `key`, soft-deleted ones too (a
        query casting the key's values reads their rows as well): what a new rule must fit."""
        model: Any = MODELS[entity]
        is_live = and_(true(), *live(entity))
        statement = select(model.id, model.custom_fields, is_live).where(DocumentHasKey(model.custom_fields, key))
        return [(row[0], row[1], bool(row[2])) for row in await self.session.execute(statement)]

    async def rewrite(self, entity: CustomFieldEntity, record_id: int, document: dict[str, Any]) -> None:
        """Store a record's custom_fields as given (a value normalised when its field was defined over it)."""
        model: Any = MODELS[entity]
        await self.session.execute(
            update(model).where(model.id == record_id).values(custom_fields=document).execution_options(synchronize_session=False)
        )


async def build_field_index(connection: AsyncConnection, entity: CustomFieldEntity, key: str) -> None:
    """Build the field's index (`field_index`) on an autocommit connection, unless it is there: a build another
    process has started is left to it, and an index a failed build left invalid is dropped and built again. SQLite,
    the embedded database of small data sets, reads the document's values as they are."""
    if connection.dialect.name != "postgresql":
        return
    name, create = field_index(connection.dialect, entity, key)
    lock = advisory_key(name)
    if not await connection.scalar(select(func.pg_try_advisory_lock(lock))):
        return
    try:
        valid = await connection.scalar(
            text("SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = :name"),
            {"name": name},
        )
        if valid is False:
            await connection.exec_driver_sql(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        await connection.exec_driver_sql(create)
    finally:
        await connection.scalar(select(func.pg_advisory_unlock(lock)))
