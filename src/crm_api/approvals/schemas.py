from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from crm_api.approvals.policy import (
    ApprovalAction,
    ApprovalStatus,
    ApproverKind,
    ConditionField,
    ConditionOperator,
    Decision,
)
from crm_api.core.schemas import Id, InputModel, OutputModel, Text, VersionedOutput, example

SubjectType = Annotated[str, Field(pattern=r"^[a-z][a-z_]{0,49}$", examples=["quote"])]
RoleCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,49}$", examples=["sales_supervisor"])]


class StepCondition(InputModel):
    """The step applies only when the subject's `field` compares so with `value` (`amount >= 100000`)."""

    field: ConditionField
    operator: ConditionOperator
    value: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]


class FlowStepIn(InputModel):
    name: Annotated[str, Text(100)]
    approver_kind: ApproverKind = Field(
        description="`team_role`: a holder of `approver_role` in the requester's team; `role`: any holder of "
        "`approver_role`; `user`: the user `approver_user_id`"
    )
    approver_role: RoleCode | None = None
    approver_user_id: Id | None = None
    condition: StepCondition | None = Field(default=None, description="Absent: the step always applies")

    @model_validator(mode="after")
    def _names_one_approver(self) -> "FlowStepIn":
        if self.approver_kind == ApproverKind.USER and (self.approver_user_id is None or self.approver_role is not None):
            raise PydanticCustomError("approver", "A user step names approver_user_id and no approver_role")
        if self.approver_kind != ApproverKind.USER and (self.approver_role is None or self.approver_user_id is not None):
            raise PydanticCustomError("approver", "A role step names approver_role and no approver_user_id")
        return self


class FlowPut(InputModel):
    name: Annotated[str, Text(200)]
    steps: list[FlowStepIn] = Field(min_length=1, max_length=20, description="In the order they are decided")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Quotes with large discounts",
                    "steps": [
                        {"name": "Team supervisor", "approver_kind": "team_role", "approver_role": "sales_supervisor"},
                        {
                            "name": "Executive for large quotes",
                            "approver_kind": "role",
                            "approver_role": "executive",
                            "condition": {"field": "amount", "operator": ">=", "value": "100000"},
                        },
                    ],
                }
            ]
        }
    )


class StepConditionRead(OutputModel):
    """A step's condition as stored: one model per direction, so a generated client gets one class per name."""

    field: ConditionField
    operator: ConditionOperator
    value: Decimal


class FlowStepRead(OutputModel):
    position: int
    name: str
    approver_kind: ApproverKind
    approver_role: str | None
    approver_user_id: int | None
    condition: StepConditionRead | None


class FlowRead(VersionedOutput):
    subject_type: str
    name: str
    steps: list[FlowStepRead]
    updated_at: datetime


class RequestStepRead(OutputModel):
    position: int
    name: str
    approver_kind: ApproverKind
    approver_role: str | None
    approver_user_id: int | None
    decision: Decision | None
    decided_by_id: int | None
    decided_by_name: str | None
    decided_at: datetime | None
    comment: str | None


class ApprovalRead(VersionedOutput):
    id: int
    subject_type: str
    subject_id: int
    title: str
    amount: Decimal | None
    max_discount: Decimal | None
    link: str = Field(description="The subject's API path")
    status: ApprovalStatus
    current_step: int | None = Field(description="Position of the step waiting for a decision; null once settled")
    requester_id: int
    requester_name: str
    created_at: datetime
    decided_at: datetime | None
    steps: list[RequestStepRead]
    allowed_actions: list[ApprovalAction] = Field(description="What the caller may do to this request now")


class ApprovalSummary(OutputModel):
    """A subject's latest approval request, as its own representation lists it."""

    id: int
    status: ApprovalStatus
    current_step_name: str | None
    requested_at: datetime
    decided_at: datetime | None


class DecisionBody(InputModel):
    model_config = example({"comment": "折扣超出本季度政策，请调整后重新提交"})
    comment: Annotated[str, Text(2000)] | None = Field(default=None, description="Required to reject")
