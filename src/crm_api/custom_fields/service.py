"""Custom fields: admin-defined typed fields per entity, and the one check of their values every write goes through.

Rules (SPEC §3.17):
- A field's key, type and choices' category never change; label, required, unique and order may.
- `validate_values` is the check of create, update and import alike: unknown keys, values the type cannot read,
  required fields left empty and values another live record holds of a unique field are 422s, each on
  `custom_fields.<key>`; the values come back normalised (numbers as JSON numbers, decimals as strings, dates ISO,
  choices as dictionary values, given by value or label).
- Required: a new record must have a value; an edit may not clear it. Records made before a field became required
  are not forced to gain one on an unrelated edit.
- Unique: among live (not soft-deleted) records of the entity; checked under a per-value lock on PostgreSQL.
- A deactivated field keeps its values (reads and exports show them) but is no longer required, no longer filterable
  and no longer accepted on write, except unchanged (an SPA may send back what it read). Reactivating restores it.
- A value kept as it is passes even if its choice has been deactivated in the dictionary since.
"""

import logging
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from crm_api.core import audit
from crm_api.core.cache import cached
from crm_api.core.errors import Conflict, FieldError, InvalidInput, NotFound
from crm_api.core.pagination import Page, PageParams, Sort
from crm_api.core.permissions import Principal
from crm_api.core.pubsub import REFERENCE_CHANNEL
from crm_api.core.query import PrefixedParams
from crm_api.custom_fields import values as field_values
from crm_api.custom_fields.policy import CHOICE_TYPES, ORDERED_TYPES, CustomFieldEntity, CustomFieldType
from crm_api.custom_fields.repository import CustomFieldRepository, build_field_index, document_of, holds
from crm_api.custom_fields.schemas import CustomFieldCreate, CustomFieldRead, CustomFieldUpdate, JsonSchema
from crm_api.models.custom_field import CustomFieldDefinition

log = logging.getLogger("crm_api.custom_fields")

INVALID = "custom_field.invalid"
RANGES = frozenset({"gte", "lte"})


@dataclass(frozen=True)
class FieldDefinition:
    """What the rules read of a definition: a copy, so rules kept across requests hold no session's object."""

    key: str
    label: str
    type: CustomFieldType
    dictionary_category: str | None
    required: bool
    unique: bool
    active: bool

    @classmethod
    def of(cls, definition: CustomFieldDefinition) -> "FieldDefinition":
        return cls(**{field.name: getattr(definition, field.name) for field in fields(cls)})


@dataclass(frozen=True)
class FieldRules:
    """The definitions of one entity's custom fields with their choices; each worker keeps them until they or the
    dictionary change (`rules_for`)."""

    entity: CustomFieldEntity
    definitions: dict[str, FieldDefinition]  # by key, active or not, in form order
    # Per dictionary category: each active item's value and label -> its value; and (value, label) in order.
    choices: dict[str, dict[str, str]]
    choice_labels: dict[str, list[tuple[str, str]]]

    @property
    def active(self) -> list[FieldDefinition]:
        return [definition for definition in self.definitions.values() if definition.active]

    def normalized(self, definition: FieldDefinition, value: Any) -> Any:
        """The stored form of a non-empty value of the field; ValueError says what is wrong."""
        return field_values.normalized(definition.type, value, self.choices.get(definition.dictionary_category or "", {}))

    def check(self, values: dict[str, Any], *, current: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[FieldError]]:
        """The record's document after writing `values` over `current` (None: a new record), and what is wrong."""
        document = dict(current or {})
        errors: list[FieldError] = []

        def refuse(key: str, message: str, kind: str) -> None:
            errors.append(FieldError(field=f"custom_fields.{key}", message=message, type=kind))

        for key, value in values.items():
            definition = self.definitions.get(key)
            if current is not None and key in current and value == current[key]:
                continue  # kept as it is
            if definition is None:
                refuse(key, f"{key!r} is not a custom field of {self.entity}", "unknown_field")
            elif not definition.active:
                refuse(key, f"{definition.label} is no longer in use", "inactive_field")
            elif field_values.is_empty(value):
                if definition.required and (current is None or current.get(key) is not None):
                    refuse(key, f"{definition.label} is required", "missing")
                document.pop(key, None)
            else:
                try:
                    document[key] = self.normalized(definition, value)
                except ValueError as exc:
                    refuse(key, f"{definition.label} {exc}", "value_error")
        if current is None:
            for definition in self.active:
                if definition.required and definition.key not in document and definition.key not in values:
                    refuse(definition.key, f"{definition.label} is required", "missing")
        return document, errors

    def unique_written(self, document: dict[str, Any], current: dict[str, Any] | None) -> list[FieldDefinition]:
        """The unique fields whose value this write sets anew."""
        before = current or {}
        return [
            definition
            for definition in self.active
            if definition.unique
            and document.get(definition.key) is not None
            and document[definition.key] != before.get(definition.key)
        ]

    def conditions(self, params: PrefixedParams) -> list[ColumnElement[bool]]:
        """The WHERE clauses of `cf.<key>=value`, `cf.<key>.gte=` and `cf.<key>.lte=`; 422 on what cannot apply."""
        document = document_of(self.entity)
        clauses: list[ColumnElement[bool]] = []
        errors: list[FieldError] = []
        for name, text in params:
            key, _, suffix = name.partition(".")
            definition = self.definitions.get(key)
            try:
                if definition is None or not definition.active:
                    raise ValueError(f"{key!r} is not an active custom field of {self.entity}")
                if suffix:
                    if suffix not in RANGES or definition.type not in ORDERED_TYPES:
                        raise ValueError(f"takes no .{suffix}: ranges are .gte and .lte, of number, decimal and date fields")
                    # ISO dates order as text; numbers and decimals compare as double precision.
                    if definition.type == CustomFieldType.DATE:
                        value, bound = document[key].as_string(), self.normalized(definition, text)
                    else:
                        value, bound = document[key].as_float(), float(self.normalized(definition, text))
                    clauses.append(value >= bound if suffix == "gte" else value <= bound)
                elif definition.type == CustomFieldType.MULTI_CHOICE:
                    (choice,) = self.normalized(definition, [text])
                    clauses.append(holds(document, key, choice, in_list=True))
                else:
                    clauses.append(holds(document, key, self.normalized(definition, text)))
            except ValueError as exc:
                errors.append(FieldError(field=f"cf.{name}", message=str(exc), type="value_error"))
        if errors:
            raise InvalidInput.many(errors, "Some custom field filters cannot apply", code="custom_field.invalid_filter")
        return clauses

    def key_for_header(self, header: str) -> str | None:
        """The key of the active field a file's column names: by key, by label, or as `custom_fields.<key>`."""
        for definition in self.active:
            if header in {definition.key, definition.label, f"custom_fields.{definition.key}"}:
                return definition.key
        return None


async def _rules(session: AsyncSession, entity: CustomFieldEntity, definitions: list[CustomFieldDefinition]) -> FieldRules:
    items = await CustomFieldRepository(session).choices(
        {d.dictionary_category for d in definitions if d.dictionary_category is not None}
    )
    return FieldRules(
        entity=entity,
        definitions={definition.key: FieldDefinition.of(definition) for definition in definitions},
        choices={
            category: {item.label: item.value for item in listed} | {item.value: item.value for item in listed}
            for category, listed in items.items()
        },
        choice_labels={category: [(item.value, item.label) for item in listed] for category, listed in items.items()},
    )


async def rules_for(session: AsyncSession, entity: CustomFieldEntity) -> FieldRules:
    """The entity's custom field rules, from the worker's copy: every write and filter of the entity reads them."""

    async def read() -> FieldRules:
        return await _rules(session, entity, await CustomFieldRepository(session).all_of(entity))

    return await cached(session, REFERENCE_CHANNEL, f"custom_fields:{entity}", read)


async def unique_errors(
    session: AsyncSession,
    rules: FieldRules,
    document: dict[str, Any],
    *,
    current: dict[str, Any] | None = None,
    record_id: int | None = None,
) -> list[FieldError]:
    """The unique values of `document` another live record already holds (each held until commit on PostgreSQL)."""
    repo = CustomFieldRepository(session)
    errors = []
    for definition in rules.unique_written(document, current):
        value = document[definition.key]
        await repo.hold_field(rules.entity, definition.key)
        if await repo.taken_by(rules.entity, definition.key, value, except_ids={record_id} if record_id else frozenset()):
            errors.append(
                FieldError(
                    field=f"custom_fields.{definition.key}",
                    message=f"{definition.label} {value!r} is already used by another {rules.entity}",
                    type="unique",
                )
            )
    return errors


async def validate_values(
    session: AsyncSession,
    entity: CustomFieldEntity,
    values: dict[str, Any] | None,
    *,
    current: dict[str, Any] | None = None,
    record_id: int | None = None,
    rules: FieldRules | None = None,
) -> dict[str, Any]:
    """The record's `custom_fields` after writing `values`: over `current` for an existing record (`record_id`), or
    as a new record's. 422 (`custom_field.invalid`) listing every field in error. Many records at once pass the
    entity's `rules_for` once instead of reading them again for each."""
    rules = rules or await rules_for(session, entity)
    document, errors = rules.check(values or {}, current=current)
    if not errors:
        errors = await unique_errors(session, rules, document, current=current, record_id=record_id)
    if errors:
        raise InvalidInput.many(errors, "Some custom field values are not valid", code=INVALID)
    return document


async def filter_conditions(
    session: AsyncSession, entity: CustomFieldEntity, params: PrefixedParams
) -> list[ColumnElement[bool]]:
    """The WHERE clauses of a list's `cf.` parameters (none: no query)."""
    if not params:
        return []
    return (await rules_for(session, entity)).conditions(params)


async def uses_choice(session: AsyncSession, category: str, value: str) -> bool:
    """Whether a record's custom field holds this dictionary value: such an item is in use (deactivate, not delete)."""
    repo = CustomFieldRepository(session)
    for definition in await repo.with_category(category):
        if await repo.holds_choice(definition, value):
            return True
    return False


# Definitions: listed by anyone signed in (forms need them), changed by admins.


async def list_definitions(
    session: AsyncSession, entity: CustomFieldEntity, params: PageParams, *, include_inactive: bool
) -> Page[CustomFieldRead]:
    repo = CustomFieldRepository(session)
    statement = repo.of_entity(entity)
    if not include_inactive:
        statement = statement.where(CustomFieldDefinition.active.is_(True))
    sort = Sort([CustomFieldDefinition.sort_order, CustomFieldDefinition.id], descending=False)
    return (await repo.page(statement, params, sort)).to_page(CustomFieldRead.model_validate)


async def get_definition(session: AsyncSession, entity: CustomFieldEntity, key: str) -> CustomFieldDefinition:
    definition = await CustomFieldRepository(session).find(entity, key)
    if definition is None:
        raise NotFound("Custom field", key)
    return definition


async def _adopt_stored_values(session: AsyncSession, definition: CustomFieldDefinition, *, unique: bool) -> None:
    """Values records already hold under the key (written before the field was defined, as the untyped custom fields of
    customers were, or while it was not unique) must fit the field: 409 naming how many do not, so an admin fixes the
    data first. Those that fit are stored normalised ("120" becomes 120 for a number), so filters find them."""
    repo = CustomFieldRepository(session)
    rules = await _rules(session, definition.entity, [definition])
    field = rules.definitions[definition.key]
    unfit, seen, repeated = 0, set(), 0
    rewrites = []
    for record_id, document, is_live in await repo.holders(definition.entity, definition.key):
        try:
            normalized = rules.normalized(field, document[definition.key])
        except ValueError:
            unfit += 1
            continue
        if normalized != document[definition.key]:
            rewrites.append((record_id, document | {definition.key: normalized}))
        if unique and is_live:
            marker = repr(normalized)
            repeated += marker in seen
            seen.add(marker)
    if unfit or repeated:
        raise Conflict(
            f"{unfit} stored values of {definition.key} are not valid {definition.type} values and {repeated} repeat "
            "another record's; correct them first",
            code="custom_field.stored_values_conflict",
            unfit=unfit,
            repeated=repeated,
        )
    for record_id, document in rewrites:
        await repo.rewrite(definition.entity, record_id, document)


async def _ensure_label_free(session: AsyncSession, entity: CustomFieldEntity, label: str) -> None:
    """Labels head export columns and name import columns: two fields of an entity never share one."""
    if any(definition.label == label for definition in await CustomFieldRepository(session).all_of(entity)):
        raise Conflict(f"{entity} already has a custom field labelled {label}", code="custom_field.duplicate_label")


async def create_definition(
    session: AsyncSession, actor: Principal, entity: CustomFieldEntity, data: CustomFieldCreate
) -> CustomFieldDefinition:
    repo = CustomFieldRepository(session)
    if await repo.find(entity, data.key) is not None:
        raise Conflict(f"{entity} already has a custom field {data.key}", code="custom_field.duplicate_key")
    await _ensure_label_free(session, entity, data.label)
    if data.dictionary_category is not None and not await repo.category_exists(data.dictionary_category):
        raise InvalidInput(
            "dictionary_category",
            f"The dictionary has no category {data.dictionary_category}",
            code="custom_field.unknown_category",
        )
    definition = CustomFieldDefinition(entity=entity, active=True, **data.model_dump())
    await _adopt_stored_values(session, definition, unique=data.unique)
    session.add(definition)
    await audit.record_change(session, actor=actor, entity_type="custom_field", entity=definition, action="create", before=None)
    return definition


async def index_field(engine: AsyncEngine, entity: CustomFieldEntity, key: str) -> None:
    """Build the index a filter on the field reads (once its definition has committed: a background task of the
    request that defined it). A failure is logged, and the next start builds it (`index_fields`)."""
    try:
        async with engine.connect() as connection:
            await build_field_index(await connection.execution_options(isolation_level="AUTOCOMMIT"), entity, key)
    except Exception:
        log.exception("the index of custom field %s.%s was not built", entity, key)


async def index_fields(engine: AsyncEngine) -> None:
    """At start: the index of every active field, where a crash or a failed build left it out (and those of fields
    defined before fields had one)."""
    async with AsyncSession(engine) as session:
        definitions = [(definition.entity, definition.key) for definition in await CustomFieldRepository(session).all_active()]
    for entity, key in definitions:
        await index_field(engine, entity, key)


async def update_definition(
    session: AsyncSession, actor: Principal, entity: CustomFieldEntity, key: str, data: CustomFieldUpdate
) -> CustomFieldDefinition:
    definition = await get_definition(session, entity, key)
    changes = data.changes()
    if changes.get("label", definition.label) != definition.label:
        await _ensure_label_free(session, entity, changes["label"])
    if changes.get("unique") and not definition.unique:
        if definition.type in {CustomFieldType.BOOLEAN, CustomFieldType.MULTI_CHOICE}:
            raise InvalidInput("unique", f"A {definition.type} field cannot be unique", code="custom_field.not_uniqueable")
        await _adopt_stored_values(session, definition, unique=True)
    before = audit.snapshot(definition)
    for name, value in changes.items():
        setattr(definition, name, value)
    await audit.record_change(session, actor=actor, entity_type="custom_field", entity=definition, action="update", before=before)
    return definition


async def set_active(
    session: AsyncSession, actor: Principal, entity: CustomFieldEntity, key: str, *, active: bool
) -> CustomFieldDefinition:
    """Deactivate (values kept, no longer required, filtered or written) or reactivate a field."""
    definition = await get_definition(session, entity, key)
    if definition.active == active:
        return definition
    if active:
        await _adopt_stored_values(session, definition, unique=definition.unique)
    before = audit.snapshot(definition)
    definition.active = active
    action = "activate" if active else "deactivate"
    await audit.record_change(session, actor=actor, entity_type="custom_field", entity=definition, action=action, before=before)
    return definition


# The form an SPA renders.

_SCHEMA_TYPES: dict[CustomFieldType, JsonSchema] = {
    CustomFieldType.TEXT: {"type": "string", "maxLength": field_values.MAX_TEXT},
    CustomFieldType.NUMBER: {"type": "number"},
    CustomFieldType.DECIMAL: {"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "format": "decimal"},
    CustomFieldType.DATE: {"type": "string", "format": "date"},
    CustomFieldType.BOOLEAN: {"type": "boolean"},
}


def _property(rules: FieldRules, definition: FieldDefinition) -> JsonSchema:
    schema: JsonSchema = {"title": definition.label}
    if definition.type in CHOICE_TYPES:
        options = [
            {"const": value, "title": label} for value, label in rules.choice_labels.get(definition.dictionary_category or "", [])
        ]
        choice = {"type": "string", "oneOf": options} if options else {"type": "string", "enum": []}
        if definition.type == CustomFieldType.CHOICE:
            schema |= choice
        else:
            schema |= {"type": "array", "items": choice, "uniqueItems": True, "maxItems": field_values.MAX_CHOICES}
    else:
        schema |= _SCHEMA_TYPES[definition.type]
    if definition.unique:
        schema["description"] = "Unique: no two records share a value"
    return schema


async def json_schema(session: AsyncSession, entity: CustomFieldEntity, *, schema_id: str) -> JsonSchema:
    """A JSON Schema (draft 2020-12) of the entity's `custom_fields`: its active fields in form order."""
    rules = await rules_for(session, entity)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": schema_id,
        "title": f"Custom fields of a {entity}",
        "type": "object",
        "properties": {definition.key: _property(rules, definition) for definition in rules.active},
        "required": [definition.key for definition in rules.active if definition.required],
        "additionalProperties": False,
    }
