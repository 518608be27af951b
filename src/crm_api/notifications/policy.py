"""The message centre's vocabulary: what a notification is about and where else it may be sent."""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, String, literal
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import InstrumentedAttribute


class NotificationType(StrEnum):
    """Every reminder or event a person must act on (SPEC §3.15)."""

    ASSIGNMENT = "assignment"
    STALL_WARNING = "stall_warning"
    FOLLOW_UP_DUE = "follow_up_due"
    CHURN_WARNING = "churn_warning"
    SLA_BREACH = "sla_breach"
    APPROVAL_PENDING = "approval_pending"
    APPROVAL_DECIDED = "approval_decided"
    WEEKLY_REPORT = "weekly_report"
    INSTALLMENT_DUE_SOON = "installment_due_soon"
    INSTALLMENT_OVERDUE = "installment_overdue"


class NotificationChannel(StrEnum):
    """Where a user may have their notifications sent besides the message centre."""

    EMAIL = "email"
    WECOM = "wecom"
    DINGTALK = "dingtalk"
    FEISHU = "feishu"


class RobotKind(StrEnum):
    """The group-robot webhooks an admin may configure, one per vendor (the channels other than email)."""

    WECOM = "wecom"
    DINGTALK = "dingtalk"
    FEISHU = "feishu"


class SmtpSecurity(StrEnum):
    NONE = "none"  # plain SMTP (a relay on the local network)
    STARTTLS = "starttls"  # upgrade after connecting (port 587)
    TLS = "tls"  # TLS from the start (port 465)


class DeliveryPurpose(StrEnum):
    """What a channel delivery carries."""

    NOTIFICATION = "notification"
    CONTACT_EMAIL = "contact_email"
    WEEKLY_REPORT = "weekly_report"


# The PostgreSQL NOTIFY channel that wakes the streams (core.pubsub): its payload names the users to wake.
STREAM_CHANNEL = "crm_notifications"
# The payload that wakes every stream: a set-based job wrote for many users at once.
EVERYONE = "*"

# The API path each linked record is read at: a notification's `path` is this plus the record's id.
LINK_PATHS: dict[str, str] = {
    "opportunity": "/api/v1/opportunities",
    "service_ticket": "/api/v1/service-tickets",
    "lead": "/api/v1/leads",
    "customer": "/api/v1/customers",
    "churn_warning": "/api/v1/churn-warnings",
    "task": "/api/v1/tasks",
    "approval": "/api/v1/approvals",
    "contract": "/api/v1/contracts",
}


@dataclass(frozen=True)
class Link:
    """The record a notification is about."""

    entity_type: str
    entity_id: int

    @property
    def path(self) -> str:
        return f"{LINK_PATHS[self.entity_type]}/{self.entity_id}"


def link_columns(entity_type: str, entity_id: ColumnElement[Any] | InstrumentedAttribute[Any]) -> list[ColumnElement[Any]]:
    """`Link` in SQL, for a set-based notifying SELECT: entity_type, entity_id and path, labelled."""
    path = literal(LINK_PATHS[entity_type] + "/") + sql_cast(entity_id, String)
    return [literal(entity_type).label("entity_type"), entity_id.label("entity_id"), path.label("path")]
