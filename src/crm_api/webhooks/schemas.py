from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, HttpUrl, UrlConstraints

from crm_api.core.schemas import InputModel, OutputModel, PatchModel, Text, VersionedOutput, example
from crm_api.webhooks.policy import DeliveryStatus

WebhookUrl = Annotated[HttpUrl, UrlConstraints(max_length=2000, allowed_schemes=["http", "https"])]
EventTypes = Annotated[list[str], Field(min_length=1, max_length=50, description="Event types to receive, from the catalogue")]
Secret = Annotated[
    str, Field(min_length=16, max_length=200, pattern=r"^\S+$", description="Signing secret; leave out to have one generated")
]


class WebhookCreate(InputModel):
    model_config = example(
        {"url": "https://erp.example.com/hooks/crm", "event_types": ["customer.created"], "description": "ERP 同步"}
    )
    url: WebhookUrl
    event_types: EventTypes
    description: Annotated[str, Text(200)] | None = None
    secret: Secret | None = None
    active: bool = True


class WebhookUpdate(PatchModel):
    model_config = example({"active": False})
    not_nullable = frozenset({"url", "event_types", "secret", "active"})

    url: WebhookUrl | None = None
    event_types: EventTypes | None = None
    description: Annotated[str, Text(200)] | None = None
    secret: Secret | None = Field(default=None, description="A new signing secret, used from the next attempt on")
    active: bool | None = None


class WebhookRead(VersionedOutput):
    id: int
    url: str
    description: str | None
    event_types: list[str]
    active: bool
    created_by_id: int | None
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookRead):
    secret: str = Field(description="Shown once: store it now to verify X-CRM-Signature, it cannot be read again")


class EventTypeRead(OutputModel):
    type: str
    description: str
    payload_schema: dict[str, Any] = Field(description="JSON Schema of the event's `data`, from the record's read schema")


class WebhookDeliveryRead(OutputModel):
    id: int
    subscription_id: int
    event_id: int
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = Field(description="When the next attempt is due; null once succeeded or dead")
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    last_response_ms: int | None
    delivered_at: datetime | None
    created_at: datetime
