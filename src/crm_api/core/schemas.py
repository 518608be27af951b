"""Base schemas: inputs refuse unknown fields; outputs read from ORM objects."""

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError


class InputModel(BaseModel):
    """Request bodies: unknown fields (and so mass assignment of status, owner_id, code…) are a 422."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


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
