"""Customers, contacts and interactions as the API reads and writes them."""

from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from crm_api.core.offline import ClientId
from crm_api.core.schemas import ExternalId, Id, InputModel, OutputModel, PatchModel, Text, VersionedOutput, example
from crm_api.core.types import to_money
from crm_api.custom_fields.schemas import CustomFieldValues
from crm_api.customers.policy import CustomerStatus, OwnershipAction
from crm_api.webhooks.policy import DeliveryStatus

Gender = Literal["male", "female", "other"]
Rating = Annotated[int, Field(ge=1, le=5, description="1 (lowest) to 5 (highest)")]
Amount = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2), AfterValidator(to_money)]
Phone = Annotated[str, Text(40), Field(description="As entered; also stored in E.164 (default region CN)")]
DictionaryCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]


class _CustomerProfile(InputModel):
    """The writable customer fields other than the name (code, status and owner never are)."""

    region: Annotated[DictionaryCode | None, Field(description="Dictionary `region` value")] = None
    level: Annotated[DictionaryCode | None, Field(description="Dictionary `customer_level` value")] = None
    industry: Annotated[DictionaryCode | None, Field(description="Dictionary `industry` value")] = None
    satisfaction: Rating | None = None
    credit: Rating | None = None
    address: Annotated[str, Text(300)] | None = None
    postal_code: Annotated[str, Text(20)] | None = None
    phone: Phone | None = None
    fax: Annotated[str, Text(40)] | None = None
    website: Annotated[str, Text(300)] | None = None
    email: EmailStr | None = None
    business_licence_no: Annotated[str, Text(64)] | None = None
    legal_representative: Annotated[str, Text(100)] | None = None
    registered_capital: Amount | None = None
    annual_turnover: Amount | None = None
    bank: Annotated[str, Text(200)] | None = None
    bank_account: Annotated[str, Text(64)] | None = None
    local_tax_no: Annotated[str, Text(64)] | None = None
    national_tax_no: Annotated[str, Text(64)] | None = None
    tags: list[Tag] | None = Field(default=None, max_length=20)
    custom_fields: CustomFieldValues | None = None

    @field_validator("tags")
    @classmethod
    def _distinct_tags(cls, tags: list[str] | None) -> list[str] | None:
        return list(dict.fromkeys(tags)) if tags is not None else None


class CustomerCreate(_CustomerProfile):
    model_config = example(
        {
            "name": "上海东方明珠贸易有限公司",
            "region": "shanghai",
            "level": "major",
            "industry": "retail",
            "phone": "021-5888 1234",
            "email": "info@dfmz.example.cn",
            "tags": ["展会"],
        }
    )
    name: Annotated[str, Text(200)]
    client_id: ClientId = None
    external_id: ExternalId | None = None


class CustomerUpdate(PatchModel, _CustomerProfile):
    model_config = example({"phone": "021-5888 1235", "satisfaction": 4})
    not_nullable = frozenset({"name", "tags", "custom_fields"})

    name: Annotated[str, Text(200)] | None = None


class CustomerTransfer(InputModel):
    model_config = example({"owner_id": 5})
    owner_id: Id = Field(description="The active user who becomes the customer's account manager")


class CustomerRelease(InputModel):
    model_config = example({"reason": "客户长期无采购计划，放回公海"})
    reason: Annotated[str, Text(500)] = Field(description="Why the customer goes back to the pool; kept in its history")


class OwnershipChangeRead(OutputModel):
    """One move of a customer's ownership; a null user is the pool."""

    id: int
    customer_id: int
    action: OwnershipAction
    from_user_id: int | None
    from_user_name: str | None
    to_user_id: int | None
    to_user_name: str | None
    reason: str | None
    actor_id: int | None
    actor_name: str | None
    at: datetime


class CustomerSearch(BaseModel):
    """The filters of the customer list and export, as query parameters."""

    q: Annotated[str | None, Field(max_length=100, description="Name, code or phone contains")] = None
    region: Annotated[str | None, Field(max_length=100)] = None
    level: Annotated[str | None, Field(max_length=100)] = None
    owner_id: Id | None = None
    status: CustomerStatus | None = None
    tag: Annotated[str | None, Field(max_length=50)] = None


class CustomerFilters(CustomerSearch):
    deleted: bool = Field(default=False, description="List soft-deleted customers instead (needs customers:delete)")


class CustomerRead(VersionedOutput):
    id: int
    code: str
    external_id: str | None
    name: str
    status: CustomerStatus
    owner_id: int | None = Field(description="The account manager; null while the customer is in the pool")
    locked: bool = Field(description="Locked by its owner: the recycle job leaves it with them")
    locked_at: datetime | None
    owner_name: str | None = Field(description="The account manager's full name")
    region: str | None
    level: str | None
    industry: str | None
    satisfaction: int | None
    credit: int | None
    address: str | None
    postal_code: str | None
    phone: str | None
    phone_e164: str | None
    fax: str | None
    website: str | None
    email: str | None
    business_licence_no: str | None
    legal_representative: str | None
    registered_capital: Decimal | None
    annual_turnover: Decimal | None
    bank: str | None
    bank_account: str | None
    local_tax_no: str | None
    national_tax_no: str | None
    tags: list[str]
    custom_fields: dict[str, Any]
    churned_at: datetime | None
    deleted_at: datetime | None
    erased_at: datetime | None = Field(description="When its personal data was erased; read-only since")
    created_by_id: int | None
    client_id: UUID | None = Field(description="The app's UUID for it, when it was created offline")
    created_by_name: str | None
    created_at: datetime
    updated_at: datetime

    @field_validator("tags", mode="before")
    @classmethod
    def _tag_names(cls, tags: list[Any]) -> list[str]:
        return sorted(tag if isinstance(tag, str) else tag.tag for tag in tags)


class RecycleRule(InputModel):
    """When an owned customer of a level goes back to the pool: either condition is enough."""

    level: Annotated[
        DictionaryCode | None,
        Field(description="Dictionary `customer_level` value; null: the default rule, for every other level"),
    ] = None
    no_interaction_days: int | None = Field(
        default=None, ge=1, le=3650, description="Recycled after this many days without an interaction; null: never"
    )
    no_deal_days: int | None = Field(
        default=None,
        ge=1,
        le=3650,
        description="Recycled after this many days without a won opportunity or a shipped order; null: never",
    )
    warning_days: int = Field(default=0, ge=0, le=365, description="The owner gets a task this many days before; 0: none")

    @model_validator(mode="after")
    def _some_condition(self) -> "RecycleRule":
        if self.no_interaction_days is None and self.no_deal_days is None:
            raise ValueError("give no_interaction_days, no_deal_days or both")
        return self


class RecycleRules(InputModel):
    """The whole rule set; a level without a rule of its own follows the default rule (if there is one)."""

    rules: list[RecycleRule] = Field(
        max_length=100,
        examples=[[{"level": None, "no_interaction_days": 30, "no_deal_days": 180, "warning_days": 3}]],
    )

    @field_validator("rules")
    @classmethod
    def _one_rule_per_level(cls, rules: list[RecycleRule]) -> list[RecycleRule]:
        levels = [rule.level for rule in rules]
        if len(set(levels)) != len(levels):
            raise ValueError("one rule per level (and one default rule)")
        return rules


class RecycleRuleRead(OutputModel):
    level: str | None = Field(description="null: the default rule")
    no_interaction_days: int | None
    no_deal_days: int | None
    warning_days: int
    updated_at: datetime
    updated_by_id: int | None


class RecycleRulesRead(OutputModel):
    rules: list[RecycleRuleRead]


class DuplicateMatch(OutputModel):
    """The live customer a new or changed one would duplicate (§3.12)."""

    id: int
    name: str
    owner_id: int | None
    owner_name: str = Field(description='Its owner\'s name, or "pool"', examples=["Wang Fang", "pool"])
    matched_on: Literal["name", "phone", "email"]


class PoolCustomerRead(CustomerRead):
    """A customer in the pool: phone, fax and email are masked (`138****5678`) until someone claims it."""


class ContactCreate(InputModel):
    model_config = example(
        {
            "name": "刘敏",
            "gender": "female",
            "title": "采购经理",
            "office_phone": "021-6234 5680",
            "mobile": "13800138000",
            "email": "liumin@example.cn",
        }
    )
    name: Annotated[str, Text(100)]
    gender: Gender
    title: Annotated[str, Text(100)]
    office_phone: Phone
    mobile: Phone | None = None
    email: EmailStr | None = None
    notes: Annotated[str, Field(max_length=2000)] | None = None
    client_id: ClientId = None
    external_id: ExternalId | None = None
    custom_fields: CustomFieldValues | None = None


class ContactUpdate(PatchModel):
    model_config = example({"title": "采购总监"})
    not_nullable = frozenset({"name", "gender", "title", "office_phone", "custom_fields"})

    name: Annotated[str, Text(100)] | None = None
    gender: Gender | None = None
    title: Annotated[str, Text(100)] | None = None
    office_phone: Phone | None = None
    mobile: Phone | None = None
    email: EmailStr | None = None
    notes: Annotated[str, Field(max_length=2000)] | None = None
    custom_fields: CustomFieldValues | None = None


class ContactRead(VersionedOutput):
    id: int
    external_id: str | None
    customer_id: int
    customer_name: str
    name: str
    gender: Gender
    title: str
    office_phone: str | None = Field(description="Null only once the contact's personal data was erased")
    office_phone_e164: str | None
    mobile: str | None
    mobile_e164: str | None
    email: str | None
    notes: str | None
    marketing_consent: bool = Field(description="Derived from the consent log: a marketing purpose last granted")
    custom_fields: dict[str, Any]
    erased_at: datetime | None
    client_id: UUID | None = Field(description="The app's UUID for it, when it was created offline")
    created_at: datetime
    updated_at: datetime


class CheckIn(InputModel):
    """Where and when a field visit's check-in (外勤打卡) was made, as the phone measured it."""

    latitude: float = Field(ge=-90, le=90, allow_inf_nan=False, examples=[31.2304])
    longitude: float = Field(ge=-180, le=180, allow_inf_nan=False, examples=[121.4737])
    accuracy_m: float = Field(ge=0, allow_inf_nan=False, description="Radius of the fix in metres", examples=[15.0])
    checked_in_at: AwareDatetime = Field(examples=["2026-06-01T02:30:00Z"])


class InteractionCreate(InputModel):
    model_config = example(
        {
            "occurred_on": "2026-06-01",
            "location": "客户办公室",
            "summary": "季度回访",
            "details": "了解了下季度的采购计划，客户对交货期满意。",
        }
    )
    occurred_on: date = Field(description="The day of the interaction")
    location: Annotated[str, Text(200)]
    summary: Annotated[str, Text(300)]
    details: Annotated[str, Text(10_000)]
    notes: Annotated[str, Field(max_length=2000)] | None = None
    check_in: CheckIn | None = Field(default=None, description="A field visit's check-in; kept as sent, never edited")
    client_id: ClientId = None


class InteractionUpdate(PatchModel):
    model_config = example({"summary": "季度回访（已跟进报价）"})
    not_nullable = frozenset({"occurred_on", "location", "summary", "details"})

    occurred_on: date | None = None
    location: Annotated[str, Text(200)] | None = None
    summary: Annotated[str, Text(300)] | None = None
    details: Annotated[str, Text(10_000)] | None = None
    notes: Annotated[str, Field(max_length=2000)] | None = None


class InteractionRead(VersionedOutput):
    id: int
    customer_id: int
    customer_name: str
    occurred_on: date
    location: str
    summary: str
    details: str
    notes: str | None
    check_in: CheckIn | None = None
    created_by_id: int | None
    client_id: UUID | None = Field(description="The app's UUID for it, when it was created offline")
    created_by_name: str | None
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _check_in_of(cls, interaction: Any) -> Any:
        """An Interaction row (an entity, or its columns as a dict) keeps its check-in in four columns."""
        columns = interaction if isinstance(interaction, dict) else None
        column = columns.get if columns is not None else partial(getattr, interaction)
        if column("checked_in_at", None) is None:
            return interaction
        check_in = CheckIn(
            latitude=column("checkin_latitude"),
            longitude=column("checkin_longitude"),
            accuracy_m=column("checkin_accuracy_m"),
            checked_in_at=column("checked_in_at"),
        )
        if columns is not None:
            return columns | {"check_in": check_in}
        return {name: getattr(interaction, name) for name in cls.model_fields if name != "check_in"} | {"check_in": check_in}


class OrdersSummary(OutputModel):
    """Completed orders (shipped or paid) of the customer."""

    count: int
    total: Decimal
    last_order_date: date | None


# Customer tools: import, export, duplicates, merge, bulk update.

ImportMode = Literal["all_or_nothing", "valid_rows_only"]
ExportFormat = Literal["csv", "xlsx"]
DuplicateReason = Literal["name", "phone", "email"]


class ImportRowError(OutputModel):
    row: int = Field(description="Row number in the file; the header is row 1")
    field: str
    message: str
    duplicate: DuplicateMatch | None = Field(default=None, description="The live customer the row would duplicate")


class ImportReport(OutputModel):
    dry_run: bool
    mode: ImportMode
    rows: int = Field(description="Data rows read (blank rows skipped)")
    valid: int
    invalid: int
    created: int
    errors: list[ImportRowError]


class DuplicatePair(OutputModel):
    """Two customers that may be the same company; `score` 0..1, higher is likelier."""

    customer_id: int
    customer_name: str
    other_id: int
    other_name: str
    score: float
    reasons: list[DuplicateReason]


class CustomerMerge(InputModel):
    model_config = example({"loser_id": 18})
    loser_id: Id = Field(description="The customer merged into this one and then soft-deleted")


class CustomerMergeResult(OutputModel):
    survivor: CustomerRead
    moved: dict[str, int] = Field(description="Rows moved from the loser, per table")


class CustomerBulkChanges(InputModel):
    level: Annotated[DictionaryCode | None, Field(description="Dictionary `customer_level` value")] = None
    tags_add: list[Tag] = Field(default_factory=list, max_length=20)
    tags_remove: list[Tag] = Field(default_factory=list, max_length=20)
    owner_id: Id | None = Field(default=None, description="Transfer to this account manager (needs customers:transfer)")

    @model_validator(mode="after")
    def _something_consistent(self) -> "CustomerBulkChanges":
        if not self.model_fields_set:
            raise ValueError("Nothing to change")
        if set(self.tags_add) & set(self.tags_remove):
            raise ValueError("A tag cannot be both added and removed")
        return self


class CustomerBulkUpdate(InputModel):
    model_config = example({"ids": [1, 2], "set": {"level": "major"}})
    ids: list[Id] = Field(min_length=1, max_length=500)
    set: CustomerBulkChanges

    @field_validator("ids")
    @classmethod
    def _distinct_ids(cls, ids: list[int]) -> list[int]:
        return list(dict.fromkeys(ids))


class CustomerBulkResult(OutputModel):
    updated: list[int]


class ContactEmailCreate(InputModel):
    model_config = example(
        {"contact_id": 1, "subject": "Quotation for the packaging line", "body": "Dear Ms Chen, please find our quotation below."}
    )
    contact_id: Id = Field(description="A contact of this customer with an email address")
    subject: Annotated[str, Text(300)] = Field(examples=["Quotation for the packaging line"])
    body: Annotated[str, Text(10_000)] = Field(examples=["Dear Mr Wang, please find our quotation below."])


class ContactEmailSent(BaseModel):
    interaction: InteractionRead = Field(description="The interaction that records the email (its summary is the subject)")
    delivery_id: int = Field(description="The email in the delivery log (GET /api/v1/notification-deliveries)")
    to: str
    status: DeliveryStatus = Field(description="`pending` until the dispatcher has sent it")
