from datetime import datetime

from pydantic import BaseModel, Field

from crm_api.core.schemas import InputModel, OutputModel
from crm_api.notifications.policy import NotificationChannel, NotificationType


class NotificationRead(OutputModel):
    id: int = Field(description="Increases with every notification: a stream's event id, sent back as Last-Event-ID")
    type: NotificationType
    title: str
    body: str
    entity_type: str | None = Field(description="The kind of record it is about (`opportunity`, `service_ticket`…)")
    entity_id: int | None
    path: str | None = Field(description="The API path that reads that record", examples=["/api/v1/opportunities/12"])
    read: bool
    read_at: datetime | None
    created_at: datetime


class UnreadCount(BaseModel):
    unread: int


class MarkedRead(BaseModel):
    marked: int = Field(description="How many notifications were unread and are read now")


class NotificationPreferences(InputModel):
    channels: list[NotificationChannel] = Field(
        description="Where notifications also go besides the message centre; empty: the message centre only",
        examples=[["email", "dingtalk"]],
    )


class NotificationPreferencesRead(OutputModel):
    channels: list[NotificationChannel]
