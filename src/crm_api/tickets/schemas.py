from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import Field, model_validator

from crm_api.core.schemas import Id, InputModel, OutputModel, PatchModel, Text, VersionedOutput, example
from crm_api.custom_fields.schemas import CustomFieldValues
from crm_api.tickets.policy import TicketAction, TicketChannel, TicketPriority, TicketStatus

Satisfaction = Annotated[int, Field(ge=1, le=5, description="1 (very unhappy) to 5 (very happy)")]
Minutes = Annotated[int, Field(ge=1, le=525_600)]


@dataclass(frozen=True)
class TicketFilters:
    """Archive search: every filter given must match."""

    status: TicketStatus | None = None
    service_type: str | None = None
    priority: TicketPriority | None = None
    customer_id: Id | None = None
    assignee_id: Id | None = None
    q: str | None = None
    created_from: date | None = None
    created_to: date | None = None
    breached: bool | None = None


class TicketCreate(InputModel):
    model_config = example(
        {
            "service_type": "consultation",
            "summary": "打印机无法开机",
            "customer_id": 1,
            "channel": "phone",
            "content": "客户来电：新购打印机无法开机，指示灯不亮。",
            "priority": "normal",
        }
    )
    service_type: Annotated[str, Text(100)] = Field(description="A `service_type` dictionary value")
    summary: Annotated[str, Text(300)]
    customer_id: Id
    channel: TicketChannel
    priority: TicketPriority = TicketPriority.NORMAL
    content: Annotated[str, Text(10_000)] = Field(description="The customer's request")
    custom_fields: CustomFieldValues | None = None


class AssignTicket(InputModel):
    model_config = example({"assignee_id": 4})
    assignee_id: Id


class HandleTicket(InputModel):
    model_config = example({"method": "远程指导客户更换电源适配器"})
    method: Annotated[str, Text(10_000)] = Field(description="How the request was handled")


class TicketFeedbackCreate(InputModel):
    model_config = example({"result": "客户确认问题已解决", "satisfaction": 5})
    result: Annotated[str, Text(2000)]
    satisfaction: Satisfaction


class TicketAssignmentRead(OutputModel):
    id: int
    assignee_id: int
    assigned_by_id: int | None
    routing_rule_id: int | None
    assigned_at: datetime


class TicketHandlingRead(OutputModel):
    id: int
    handler_id: int
    method: str
    handled_at: datetime


class TicketFeedbackRead(OutputModel):
    id: int
    author_id: int
    result: str
    satisfaction: int
    created_at: datetime


class LinkedArticle(OutputModel):
    id: int
    title: str


class TicketRead(VersionedOutput):
    id: int
    code: str
    service_type: str
    summary: str
    customer_id: Id
    customer_name: str
    channel: TicketChannel
    priority: TicketPriority
    content: str
    status: TicketStatus
    created_by_id: int | None
    created_by_name: str | None
    assignee_id: Id | None
    assignee_name: str | None
    assigned_at: datetime | None
    routing_rule_id: int | None = Field(description="The routing rule that assigned the ticket on create, if any")
    response_due_at: datetime | None = Field(description="First handling due (SLA); null without a policy")
    resolve_due_at: datetime | None = Field(description="Archiving due (SLA); null without a policy")
    first_handled_at: datetime | None
    archived_at: datetime | None
    breached: bool = Field(description="A due time has passed before the ticket was handled or archived")
    custom_fields: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    allowed_actions: list[TicketAction]


class TicketDetail(TicketRead):
    assignments: list[TicketAssignmentRead]
    handlings: list[TicketHandlingRead]
    feedbacks: list[TicketFeedbackRead]
    articles: list[LinkedArticle]


class SlaPolicyWrite(InputModel):
    model_config = example(
        {"service_type": "complaint", "priority": "high", "first_response_minutes": 30, "resolution_minutes": 480}
    )
    service_type: Annotated[str, Text(100)]
    priority: TicketPriority
    first_response_minutes: Minutes
    resolution_minutes: Minutes

    @model_validator(mode="after")
    def _resolution_after_response(self) -> "SlaPolicyWrite":
        if self.resolution_minutes < self.first_response_minutes:
            raise ValueError("resolution_minutes cannot be shorter than first_response_minutes")
        return self


class SlaPolicyRead(OutputModel):
    id: int
    service_type: str
    priority: TicketPriority
    first_response_minutes: int
    resolution_minutes: int


class RoutingRuleCreate(InputModel):
    model_config = example({"name": "大客户投诉给李娜", "assignee_id": 4, "customer_level": "major", "service_type": "complaint"})
    name: Annotated[str, Text(100)]
    customer_level: Annotated[str, Text(100)] | None = Field(default=None, description="A `customer_level` dictionary value")
    service_type: Annotated[str, Text(100)] | None = Field(default=None, description="A `service_type` dictionary value")
    assignee_id: Id = Field(description="An active user who receives matching tickets")
    sort_order: int = Field(default=0, ge=0, le=1_000_000, description="Lower first; the first matching rule wins")


class RoutingRuleUpdate(PatchModel):
    model_config = example({"sort_order": 5})
    not_nullable = frozenset({"name", "assignee_id", "sort_order"})

    name: Annotated[str, Text(100)] | None = None
    customer_level: Annotated[str, Text(100)] | None = None
    service_type: Annotated[str, Text(100)] | None = None
    assignee_id: Id | None = None
    sort_order: int | None = Field(default=None, ge=0, le=1_000_000)


class RoutingRuleRead(VersionedOutput):
    id: int
    name: str
    customer_level: str | None
    service_type: str | None
    assignee_id: int
    sort_order: int
    created_at: datetime
    updated_at: datetime
