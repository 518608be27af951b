from datetime import datetime
from typing import Annotated

from pydantic import Field

from crm_api.core.schemas import InputModel, OutputModel, Text, example


class ApiKeyCreate(InputModel):
    model_config = example({"name": "ERP 同步", "role": "integrator"})
    name: Annotated[str, Text(100)]
    role: str = Field(default="integrator", max_length=50, description="Role code the key acts with")


class ApiKeyRead(OutputModel):
    id: int
    name: str
    prefix: str
    role: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyIssued(ApiKeyRead):
    secret: str = Field(description="Shown once: store it now, it cannot be read again")
