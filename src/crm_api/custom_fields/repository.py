"""Custom field queries: definitions, and conditions on the `custom_fields` document of the entities that have one."""

import hashlib
from typing import Any

from sqlalchemy import Boolean, ColumnElement, Select, and_, exists, func, literal, select, true, type_coerce, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

from crm_api.core.orm import Base
from crm_api.core.repository import Repository
from crm_api.custom_fields.policy import CustomFieldEntity, CustomFieldType
from crm_api.models.custom_field import CustomFieldDefinition
from crm_api.models.customer import Contact, Customer
from crm_api.models.pipeline import Lead, Opportunity
from crm_api.models.platform import DictionaryItem
from crm_api.models.ticket import ServiceTicket

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

    def __init__(self, document: Any, key: str, value: Any, *, in_list: bool = False) -> None:
        self.document, self.key, self.value, self.in_list = document, key, value, in_list


@compiles(DocumentHas)
def _document_has_json(element: DocumentHas, compiler: SQLCompiler, **kw: Any) -> str:
    path = f'$."{element.key}"'
    if element.in_list:
        items = func.json_each(element.document, path).table_valued("value")
        return compiler.process(exists(select(literal(1)).select_from(items).where(items.c.value == element.value)), **kw)
    return compiler.process(func.json_extract(element.document, path) == element.value, **kw)


@compiles(DocumentHas, "postgresql")
def _document_has_jsonb(element: DocumentHas, compiler: SQLCompiler, **kw: Any) -> str:
    wanted = {element.key: [element.value] if element.in_list else element.value}
    return compiler.process(type_coerce(element.document, JSONB()).contains(wanted), **kw)


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
        held = DocumentHas(model.custom_fields, definition.key, value, in_list=in_list)
        return await self.session.scalar(select(model.id).where(held).limit(1)) is not None

    async def category_exists(self, category: str) -> bool:
        return bool(await self.session.scalar(select(exists().where(DictionaryItem.category == category))))

    async def hold_field(self, entity: CustomFieldEntity, key: str) -> None:
        """PostgreSQL: hold the unique field until commit, so its concurrent writers check and write one at a time (one
        lock per field, not per value: an import of many rows takes one). SQLite has one writer at a time anyway."""
        if self.session.get_bind().dialect.name != "postgresql":
            return
        digest = hashlib.sha256(f"custom_field:{entity}:{key}".encode()).digest()
        await self.session.execute(select(func.pg_advisory_xact_lock(int.from_bytes(digest[:8], "big", signed=True))))

    async def taken_by(
        self, entity: CustomFieldEntity, key: str, value: Any, *, except_ids: set[int] | frozenset[int] = frozenset()
    ) -> int | None:
        """The id of a live record of the entity whose `key` holds `value`, other than `except_ids`."""
        model: Any = MODELS[entity]
        statement = select(model.id).where(DocumentHas(model.custom_fields, key, value), *live(entity))
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
