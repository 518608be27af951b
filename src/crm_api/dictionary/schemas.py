from typing import Annotated

from pydantic import Field

from crm_api.core.schemas import InputModel, OutputModel, PatchModel, Text, example

Category = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,49}$")]


class DictionaryItemCreate(InputModel):
    model_config = example({"category": "industry", "value": "tourism", "label": "旅游"})
    category: Category
    label: Annotated[str, Text(100)]
    value: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,100}$", description="Stable code stored in records")]
    sort_order: int = Field(default=0, ge=0, le=1_000_000)
    editable: bool = True


class DictionaryItemUpdate(PatchModel):
    model_config = example({"label": "旅游业"})
    not_nullable = frozenset({"label", "value", "sort_order", "active"})

    label: Annotated[str, Text(100)] | None = None
    value: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,100}$")] | None = None
    sort_order: int | None = Field(default=None, ge=0, le=1_000_000)
    active: bool | None = None


class DictionaryItemRead(OutputModel):
    id: int
    category: str
    label: str
    value: str
    sort_order: int
    editable: bool
    active: bool
