"""Custom field definitions as the API reads and writes them, and the `custom_fields` of the entities that have them."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends
from pydantic import Field, StringConstraints, model_validator

from crm_api.core.query import PrefixedParams, PrefixedQuery
from crm_api.core.schemas import MAX_ID, InputModel, PatchModel, Text, VersionedOutput, example
from crm_api.custom_fields.policy import CHOICE_TYPES, CustomFieldEntity, CustomFieldType

KEY_PATTERN = r"^[a-z][a-z0-9_]{0,49}$"
FieldKey = Annotated[
    str,
    StringConstraints(pattern=KEY_PATTERN),
    Field(description="Lower-case letters, digits and _, starting with a letter; never changes", examples=["erp_no"]),
]
SortOrder = Annotated[int, Field(ge=0, le=10_000, description="Forms and exports list fields by this, then by id")]
# What a record's `custom_fields` may carry before its definitions check it: JSON scalars and lists of them.
_Scalar = str | bool | Annotated[int, Field(ge=-MAX_ID - 1, le=MAX_ID)] | Annotated[float, Field(allow_inf_nan=False)]
CustomFieldValue = _Scalar | Annotated[list[_Scalar], Field(max_length=100)] | None
CustomFieldValues = Annotated[
    dict[Annotated[str, StringConstraints(min_length=1, max_length=50)], CustomFieldValue],
    Field(
        max_length=100,
        description="Values of the custom fields an admin defined for this entity, by key "
        "(`GET /api/v1/custom-fields/{entity}/schema` describes them). On update only the keys sent change; "
        "null clears one.",
        examples=[{}],
    ),
]

# `?cf.<key>=value` on the lists of entities with custom fields: the parameters a route takes beyond its declared ones.
CUSTOM_FIELD_FILTERS = PrefixedQuery("cf.")
CustomFieldFilters = Annotated[PrefixedParams, Depends(CUSTOM_FIELD_FILTERS)]
FILTERS_DESCRIPTION = (
    "Custom fields filter as `cf.<key>=value` (equal; for a multi-choice field: has that choice), and for number, "
    "decimal and date fields `cf.<key>.gte=` / `cf.<key>.lte=` (inclusive range). Several filters all apply. "
    "A key that is not an active custom field of the entity, or a value its type cannot read, is a 422."
)


class CustomFieldCreate(InputModel):
    model_config = example({"key": "erp_no", "label": "ERP number", "type": "text", "unique": True, "sort_order": 10})
    key: FieldKey
    label: Annotated[str, Text(100)] = Field(examples=["ERP number"])
    type: CustomFieldType
    dictionary_category: Annotated[str, Text(50)] | None = Field(
        default=None, description="choice and multi_choice only: the dictionary category whose active items are the choices"
    )
    required: bool = Field(default=False, description="A new record must have a value; an edit may not clear it")
    unique: bool = Field(default=False, description="No two live records of the entity share a value")
    sort_order: SortOrder = 0

    @model_validator(mode="after")
    def _consistent(self) -> "CustomFieldCreate":
        if (self.type in CHOICE_TYPES) != (self.dictionary_category is not None):
            raise ValueError("dictionary_category is required for choice and multi_choice fields, and only for them")
        if self.unique and self.type in {CustomFieldType.BOOLEAN, CustomFieldType.MULTI_CHOICE}:
            raise ValueError(f"A {self.type} field cannot be unique")
        return self


class CustomFieldUpdate(PatchModel):
    """The key, type and choices' category never change (stored values depend on them); deactivate instead."""

    model_config = example({"label": "ERP customer number", "sort_order": 20})

    not_nullable = frozenset({"label", "required", "unique", "sort_order"})

    label: Annotated[str, Text(100)] | None = None
    required: bool | None = None
    unique: bool | None = None
    sort_order: SortOrder | None = None


class CustomFieldRead(VersionedOutput):
    id: int
    entity: CustomFieldEntity
    key: str
    label: str
    type: CustomFieldType
    dictionary_category: str | None
    required: bool
    unique: bool
    active: bool = Field(description="An inactive field keeps its values but is not required, filtered or accepted on write")
    sort_order: int
    created_at: datetime
    updated_at: datetime


JsonSchema = dict[str, Any]
