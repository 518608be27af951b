from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field

from crm_api.core.schemas import ExternalId, Id, InputModel, OutputModel, PatchModel, Text, VersionedOutput, example
from crm_api.custom_fields.schemas import CustomFieldValues
from crm_api.customers.schemas import CustomerRead, Gender
from crm_api.opportunities.policy import OpportunityAction, OpportunityStatus

Probability = Annotated[int, Field(ge=0, le=100, description="Success probability in percent")]
Amount = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
Phone = Annotated[str, Field(min_length=3, max_length=40)]


class OpportunityCreate(InputModel):
    model_config = example(
        {
            "customer_name": "苏州工业园区新材料有限公司",
            "success_probability": 30,
            "summary": "新材料生产线采购",
            "description": "客户计划明年扩建生产线，需要整体方案。",
            "contact_name": "赵敏",
            "contact_phone": "0512-6666 8888",
            "source": "trade_show",
        }
    )
    source: Annotated[str, Text(100)] | None = Field(default=None, description="A `lead_source` dictionary value")
    customer_name: Annotated[str, Text(200)]
    success_probability: Probability
    summary: Annotated[str, Text(300)]
    contact_name: Annotated[str, Text(100)] | None = None
    contact_phone: Phone | None = None
    description: Annotated[str, Text(5000)]
    expected_amount: Amount | None = None
    expected_close_date: date | None = None
    stage: Annotated[str, Text(100)] | None = Field(
        default=None, description="An `opportunity_stage` value; the first stage when absent"
    )
    external_id: ExternalId | None = None
    custom_fields: CustomFieldValues | None = None


class OpportunityUpdate(PatchModel):
    """Only while unassigned; the stage moves with POST …/stage once the opportunity is assigned."""

    model_config = example({"success_probability": 50})

    not_nullable = frozenset({"customer_name", "success_probability", "summary", "description", "custom_fields"})

    source: Annotated[str, Text(100)] | None = None
    customer_name: Annotated[str, Text(200)] | None = None
    success_probability: Probability | None = None
    summary: Annotated[str, Text(300)] | None = None
    contact_name: Annotated[str, Text(100)] | None = None
    contact_phone: Phone | None = None
    description: Annotated[str, Text(5000)] | None = None
    expected_amount: Amount | None = None
    expected_close_date: date | None = None
    custom_fields: CustomFieldValues | None = None


class OpportunityRead(VersionedOutput):
    id: int
    code: str
    external_id: str | None
    source: str | None
    customer_name: str
    success_probability: int
    summary: str
    contact_name: str | None
    contact_phone: str | None
    description: str
    expected_amount: Decimal | None
    expected_close_date: date | None
    stage: str
    status: OpportunityStatus
    created_by_id: int
    created_by_name: str
    assignee_id: int | None
    assignee_name: str | None
    assigned_at: datetime | None
    stage_since: datetime | None
    closed_at: datetime | None
    lost_reason: str | None
    customer_id: int | None
    custom_fields: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    allowed_actions: list[OpportunityAction] = Field(description="What the caller may do to this opportunity now")


class AssignBody(InputModel):
    model_config = example({"assignee_id": 4})
    assignee_id: Id = Field(description="An active account manager")


class StageBody(InputModel):
    model_config = example({"stage": "proposal"})
    stage: Annotated[str, Text(100)] = Field(description="An `opportunity_stage` dictionary value")


class LoseBody(InputModel):
    model_config = example({"reason": "价格高于竞争对手"})
    reason: Annotated[str, Text(500)] | None = None


class WinBody(InputModel):
    """How the opportunity's contact becomes the new customer's first contact."""

    model_config = example({"contact_gender": "male", "contact_title": "总经理", "contact_phone": "0512-6666 8888"})

    contact_gender: Gender = "other"
    contact_title: Annotated[str, Text(100)] = Field(default="Contact", description="The first contact's job title")
    contact_phone: Phone | None = Field(default=None, description="Office phone of the first contact, if not the opportunity's")
    customer_id: Id | None = Field(
        default=None,
        description="An existing active customer you may change, to attach the won opportunity to instead of creating "
        "one (the one a 409 `customer.duplicate` named)",
    )
    customer_custom_fields: CustomFieldValues | None = Field(
        default=None, description="The new customer's custom fields (its required ones); errors name `custom_fields.<key>`"
    )
    contact_custom_fields: CustomFieldValues | None = Field(
        default=None, description="The first contact's custom fields (its required ones); errors name `custom_fields.<key>`"
    )


class WinResult(OutputModel):
    opportunity: OpportunityRead
    customer: CustomerRead


class StageChangeRead(OutputModel):
    id: int
    from_stage: str
    to_stage: str
    changed_by_id: int
    changed_at: datetime


class PlanItemCreate(InputModel):
    model_config = example({"planned_on": "2026-07-01", "content": "上门演示方案"})
    planned_on: date
    content: Annotated[str, Text(2000)]


class PlanItemUpdate(PatchModel):
    """The planned date is fixed once written: sending `planned_on` is refused."""

    model_config = example({"result": "客户认可方案，约定下周报价"})

    not_nullable = frozenset({"content"})

    content: Annotated[str, Text(2000)] | None = None
    result: Annotated[str, Text(2000)] | None = Field(default=None, description="The execution result")


class PlanItemRead(VersionedOutput):
    id: int
    opportunity_id: int
    planned_on: date
    content: str
    result: str | None
    created_by_id: int
    created_by_name: str
    created_at: datetime
    updated_at: datetime


class ReminderRead(OutputModel):
    id: int
    kind: str
    opportunity_id: int | None
    message: str
    created_at: datetime
    done_at: datetime | None
