import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainSerializer, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from crm_api.core.schemas import Id, InputModel, PatchModel, VersionedOutput, example
from crm_api.targets.policy import TargetHolder

MONTH_PATTERN = "^[0-9]{4}-(0[1-9]|1[0-2])$"


def _first_of_month(value: Any) -> Any:
    if isinstance(value, date):
        return value.replace(day=1)
    if isinstance(value, str) and re.fullmatch(MONTH_PATTERN, value) and value[:4] != "0000":
        return date(int(value[:4]), int(value[5:]), 1)
    raise PydanticCustomError("month", "A month is written YYYY-MM, e.g. 2026-12")


# A calendar month, "YYYY-MM" on the wire, its 1st day in the database.
Month = Annotated[
    date,
    BeforeValidator(_first_of_month),
    PlainSerializer(lambda month: f"{month:%Y-%m}", return_type=str),
    WithJsonSchema({"type": "string", "pattern": MONTH_PATTERN, "examples": ["2026-12"]}),
]
TargetAmount = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2, examples=["300000.00"])]


class SalesTargetCreate(InputModel):
    """A month's target of one person (`user_id`) or of one team (`team_id`): send exactly one of the two."""

    model_config = example({"month": "2030-01", "user_id": 4, "amount": "300000.00"})

    month: Month
    user_id: Id | None = None
    team_id: Id | None = None
    amount: TargetAmount

    @model_validator(mode="after")
    def _one_holder(self) -> "SalesTargetCreate":
        if (self.user_id is None) == (self.team_id is None):
            raise PydanticCustomError("holder", "Send exactly one of user_id and team_id")
        return self


class SalesTargetUpdate(PatchModel):
    model_config = example({"amount": "320000.00"})
    not_nullable = frozenset({"amount"})

    amount: TargetAmount | None = None


class SalesTargetRead(VersionedOutput):
    id: int
    month: Month
    holder: TargetHolder
    user_id: int | None
    user_name: str | None
    team_id: int | None
    team_name: str | None
    amount: Decimal
    created_at: datetime
    updated_at: datetime
