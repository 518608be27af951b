from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import EmailStr, Field, field_validator, model_validator

from crm_api.core.schemas import ExternalId, Id, InputModel, OutputModel, PatchModel, Text, VersionedOutput, example
from crm_api.custom_fields.schemas import CustomFieldValues
from crm_api.leads.policy import LeadAction, LeadActivityKind, LeadStatus
from crm_api.opportunities.schemas import Amount, OpportunityRead, Probability

ScoringCriterion = Literal["field_present", "source", "region", "industry", "activity_count"]
Code = Annotated[str, Field(min_length=1, max_length=100)]
# Lead fields a `field_present` scoring rule may name.
SCORABLE_FIELDS = frozenset({"source", "company", "contact_name", "phone", "email", "region", "industry", "notes"})


class LeadCreate(InputModel):
    model_config = example(
        {
            "company": "杭州云栖科技有限公司",
            "contact_name": "王强",
            "phone": "13900139000",
            "email": "wangqiang@example.cn",
            "region": "zhejiang",
            "industry": "it",
            "source": "website",
        }
    )
    source: Code | None = Field(default=None, description="A `lead_source` dictionary value")
    company: Annotated[str, Text(200)]
    contact_name: Annotated[str, Text(100)]
    phone: Annotated[str, Field(min_length=3, max_length=40)] | None = None
    email: EmailStr | None = None
    region: Code | None = Field(default=None, description="A `region` dictionary value")
    industry: Code | None = Field(default=None, description="An `industry` dictionary value")
    notes: Annotated[str, Field(max_length=5000)] | None = None
    external_id: ExternalId | None = None
    custom_fields: CustomFieldValues | None = None


class LeadUpdate(PatchModel):
    model_config = example({"notes": "对 ERP 集成感兴趣"})
    not_nullable = frozenset({"company", "contact_name", "custom_fields"})

    source: Code | None = None
    company: Annotated[str, Text(200)] | None = None
    contact_name: Annotated[str, Text(100)] | None = None
    phone: Annotated[str, Field(min_length=3, max_length=40)] | None = None
    email: EmailStr | None = None
    region: Code | None = None
    industry: Code | None = None
    notes: Annotated[str, Field(max_length=5000)] | None = None
    custom_fields: CustomFieldValues | None = None


class ScoreReason(OutputModel):
    criterion: ScoringCriterion
    value: str
    points: int


class LeadRead(VersionedOutput):
    id: int
    external_id: str | None
    source: str | None
    company: str
    contact_name: str
    phone: str | None
    phone_e164: str | None
    email: str | None
    region: str | None
    industry: str | None
    notes: str | None
    owner_id: int
    owner_name: str
    status: LeadStatus
    score: int
    score_reasons: list[ScoreReason] = Field(description="The scoring rules that matched, with their points")
    assignment_rule_id: int | None = Field(description="The assignment rule that chose the owner, if any")
    disqualify_reason: str | None
    opportunity_id: int | None
    converted_at: datetime | None
    custom_fields: dict[str, Any]
    created_by_id: int | None
    created_by_name: str | None
    created_at: datetime
    updated_at: datetime
    allowed_actions: list[LeadAction] = Field(description="What the caller may do to this lead now")


class ActivityCreate(InputModel):
    model_config = example({"kind": "call", "notes": "电话沟通了需求"})
    kind: LeadActivityKind
    occurred_at: datetime | None = Field(default=None, description="When it happened; now when absent")
    notes: Annotated[str, Field(max_length=2000)] | None = None

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone (e.g. Z or +08:00)")
        return value.astimezone(UTC) if value is not None else None


class ActivityRead(OutputModel):
    id: int
    lead_id: int
    kind: LeadActivityKind
    occurred_at: datetime
    notes: str | None
    created_by_id: int | None
    created_by_name: str | None


class DisqualifyBody(InputModel):
    model_config = example({"reason": "没有采购预算"})
    reason: Annotated[str, Text(500)]


class ConvertBody(InputModel):
    """What the new opportunity needs beyond the lead; sensible defaults from the lead otherwise."""

    model_config = example({"summary": "ERP 集成项目", "expected_amount": "120000.00", "success_probability": 40})

    summary: Annotated[str, Text(300)] | None = None
    description: Annotated[str, Text(5000)] | None = None
    success_probability: Probability | None = Field(default=None, description="The lead's score when absent")
    expected_amount: Amount | None = None
    expected_close_date: date | None = None
    custom_fields: CustomFieldValues | None = Field(default=None, description="The new opportunity's custom fields")


class ConvertResult(OutputModel):
    lead: LeadRead
    opportunity: OpportunityRead


class ScoringRuleIn(InputModel):
    criterion: ScoringCriterion
    value: Code = Field(description="Field name, dictionary value, or minimum activity count")
    points: int = Field(ge=-100, le=100)

    @model_validator(mode="after")
    def _value_fits_criterion(self) -> "ScoringRuleIn":
        if self.criterion == "field_present" and self.value not in SCORABLE_FIELDS:
            raise ValueError(f"field_present takes one of {sorted(SCORABLE_FIELDS)}")
        if self.criterion == "activity_count" and not self.value.isdigit():
            raise ValueError("activity_count takes a whole number")
        return self


class ScoringRulesPut(InputModel):
    model_config = example(
        {
            "rules": [
                {"criterion": "source", "value": "referral", "points": 20},
                {"criterion": "field_present", "value": "email", "points": 5},
            ]
        }
    )
    rules: list[ScoringRuleIn] = Field(max_length=200)


class ScoringRuleRead(OutputModel):
    id: int
    criterion: ScoringCriterion
    value: str
    points: int


class AssignmentRuleCreate(InputModel):
    model_config = example({"name": "上海线索给李娜", "region": "shanghai", "user_id": 4, "priority": 10})
    name: Annotated[str, Text(100)]
    priority: int = Field(default=100, ge=0, le=1_000_000, description="Lower runs first")
    region: Code | None = None
    industry: Code | None = None
    source: Code | None = None
    user_id: Id | None = Field(default=None, description="Give matching leads to this user…")
    team_id: Id | None = Field(default=None, description="…or round-robin among this team's account managers")
    active: bool = True

    @model_validator(mode="after")
    def _one_target(self) -> "AssignmentRuleCreate":
        if (self.user_id is None) == (self.team_id is None):
            raise ValueError("give exactly one of user_id and team_id")
        return self


class AssignmentRuleUpdate(PatchModel):
    model_config = example({"priority": 20})
    not_nullable = frozenset({"name", "priority", "active"})

    name: Annotated[str, Text(100)] | None = None
    priority: int | None = Field(default=None, ge=0, le=1_000_000)
    region: Code | None = None
    industry: Code | None = None
    source: Code | None = None
    user_id: Id | None = None
    team_id: Id | None = None
    active: bool | None = None


class AssignmentRuleRead(VersionedOutput):
    id: int
    name: str
    priority: int
    region: str | None
    industry: str | None
    source: str | None
    user_id: int | None
    user_name: str | None
    team_id: int | None
    team_name: str | None
    active: bool
    last_assigned_user_id: int | None
    created_at: datetime
    updated_at: datetime
