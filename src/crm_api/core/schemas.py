"""Base schemas: inputs refuse unknown fields; outputs read from ORM objects."""

from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator
from pydantic_core import PydanticCustomError

# Ids are BIGINT: a larger number could never name a record, and the driver fails on it.
MAX_ID = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(item) for item in value)
    return False


def _refuse_nul(value: Any) -> Any:
    # PostgreSQL cannot store NUL in text, and no CRM field has a use for it.
    if _has_nul(value):
        raise PydanticCustomError("string_nul", "NUL characters are not allowed")
    return value


# A form field or other text read outside an InputModel (which refuses NUL in every field itself).
PlainText = Annotated[str, AfterValidator(_refuse_nul)]


class InputModel(BaseModel):
    """Request bodies: unknown fields (and so mass assignment of status, owner_id, code…) are a 422, so is NUL in any text."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        return _refuse_nul(value)


def example(body: dict[str, Any]) -> ConfigDict:
    """`model_config = example({...})`: the body Swagger UI's Try it out sends, which succeeds on the demo data."""
    return ConfigDict(json_schema_extra={"examples": [body]})


class OutputModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class VersionedOutput(OutputModel):
    """A record the CRM edits: its `version` is its ETag, the same for every caller."""

    version: int = Field(description="Bumped on every change; send it back as If-Match to update only this version", examples=[3])


def Text(max_length: int) -> StringConstraints:
    """`Annotated[str, Text(100)]`: trimmed text of 1..max_length characters."""
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)


class PatchModel(InputModel):
    """A partial update: absent fields stay as they are; `not_nullable` fields may not be sent as null."""

    not_nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _required_stay_filled(self) -> "PatchModel":
        for name in self.not_nullable & self.model_fields_set:
            if getattr(self, name) is None:
                raise PydanticCustomError("missing", "{field} cannot be emptied", {"field": name})
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


# The record's id in the system it came from: an import of the same file again updates the record it created.
ExternalId = Annotated[
    str,
    Text(64),
    Field(description="The record's id in the system it came from; an import updates the record that has it"),
]
