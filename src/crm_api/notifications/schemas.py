from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, EmailStr, Field, HttpUrl

from crm_api.core.schemas import InputModel, OutputModel, Text, example
from crm_api.notifications.policy import DeliveryPurpose, NotificationChannel, NotificationType, RobotKind, SmtpSecurity
from crm_api.webhooks.policy import DeliveryStatus


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


class RobotWrite(InputModel):
    """A vendor's group robot. `secret` is write-only: left out, the stored one stays; null removes it."""

    model_config = example(
        {"url": "https://oapi.dingtalk.com/robot/send?access_token=abc123", "secret": "SECdemo", "active": True}
    )

    url: HttpUrl = Field(
        description="The robot's webhook URL as the vendor gives it (WeCom's carries `key`, DingTalk's `access_token`)",
        examples=["https://oapi.dingtalk.com/robot/send?access_token=abc123"],
    )
    secret: Annotated[str | None, Field(max_length=200, description="DingTalk's or Feishu's signing secret")] = None
    active: bool = True


class RobotRead(BaseModel):
    """What is set, without the URL (it carries the robot's key) or the secret."""

    kind: RobotKind
    configured: bool
    active: bool
    host: str | None = Field(description="The host messages are posted to")
    has_secret: bool
    updated_at: datetime | None


class SmtpWrite(InputModel):
    """The SMTP server mail goes out through. `password` is write-only: left out, the stored one stays; null removes it."""

    model_config = example(
        {
            "host": "smtp.example.com",
            "port": 587,
            "security": "starttls",
            "username": "crm@example.com",
            "password": "app-password",
            "sender": "crm@example.com",
        }
    )

    host: Annotated[str, Text(253)] = Field(examples=["smtp.example.com"])
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    security: SmtpSecurity = SmtpSecurity.STARTTLS
    username: Annotated[str | None, Field(max_length=254)] = None
    password: Annotated[str | None, Field(max_length=200)] = None
    sender: EmailStr = Field(description="The From address", examples=["crm@example.com"])


class SmtpRead(OutputModel):
    host: str
    port: int
    security: SmtpSecurity
    username: str | None
    sender: str
    has_password: bool
    updated_at: datetime


class DeliveryRead(OutputModel):
    id: int
    channel: NotificationChannel
    purpose: DeliveryPurpose
    notification_id: int | None
    recipient: str = Field(description="The email address, or the user a robot message names")
    subject: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
