"""Base schemas: inputs refuse unknown fields; outputs read from ORM objects."""

from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, StringConstraints, model_validator
from pydantic_core import PydanticCustomError


class InputModel(BaseModel):
    """Request bodies: unknown fields (and so mass assignment of status, owner_id, code…) are a 422."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OutputModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)



def Text(max_length: int) -> type[str]:  # noqa: N802 - used as a type in schemas
    """Trimmed text of 1..max_length characters."""
    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)]  # type: ignore[return-value]


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
