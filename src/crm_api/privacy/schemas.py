"""Personal data exports, erasure requests and consent records as the API reads and writes them."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from crm_api.audit.schemas import AuditEventRead
from crm_api.core.schemas import InputModel, OutputModel, Text, example
from crm_api.customers.schemas import ContactRead, CustomerRead, InteractionRead, OrdersSummary

ConsentPurpose = Literal["marketing_email", "marketing_sms", "marketing_phone", "data_sharing"]


class ConsentCreate(InputModel):
    model_config = example({"purpose": "marketing_email", "granted": True, "source": "展会登记表"})
    purpose: ConsentPurpose
    granted: bool = Field(description="true: consent given; false: withdrawn")
    source: Annotated[str, Text(100)] = Field(description="Where it was given or withdrawn: web form, phone call, signed paper…")
    at: datetime | None = Field(default=None, description="When the person said so; now when left out; not in the future")


class ConsentRead(OutputModel):
    id: int
    contact_id: int
    purpose: str
    granted: bool
    source: str
    at: datetime
    recorded_by_id: int | None
    recorded_at: datetime


class ErasureRequest(InputModel):
    model_config = example({"reason": "客户书面要求删除个人信息"})
    reason: Annotated[str, Text(500)] = Field(
        description="Why (e.g. the person's request and its reference); kept in the audit trail"
    )


class CustomerRef(OutputModel):
    id: int
    code: str
    name: str


class ContactPersonalData(OutputModel):
    """Everything stored about one contact person."""

    exported_at: datetime
    customer: CustomerRef
    contact: ContactRead
    consents: list[ConsentRead]
    audit_events: list[AuditEventRead]


class CustomerPersonalData(OutputModel):
    """Everything stored about one customer: profile, contacts, interactions, consents, order figures, history."""

    exported_at: datetime
    customer: CustomerRead
    contacts: list[ContactRead]
    interactions: list[InteractionRead]
    consents: list[ConsentRead]
    orders: OrdersSummary
    audit_events: list[AuditEventRead]
