from datetime import datetime

from pydantic import Field

from crm_api.core.schemas import OutputModel


class DocumentRead(OutputModel):
    id: int
    customer_id: int
    interaction_id: int | None = Field(description="Set on a photo of a field visit: the interaction it shows")
    contract_id: int | None = Field(description="Set on a contract's document: the contract it is attached to")
    customer_name: str
    filename: str
    content_type: str
    size: int
    sha256: str
    description: str | None
    uploaded_by_id: int | None
    uploaded_by_name: str | None
    created_at: datetime
