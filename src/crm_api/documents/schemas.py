from datetime import datetime

from crm_api.core.schemas import OutputModel


class DocumentRead(OutputModel):
    id: int
    customer_id: int
    customer_name: str
    filename: str
    content_type: str
    size: int
    sha256: str
    description: str | None
    uploaded_by_id: int | None
    uploaded_by_name: str | None
    created_at: datetime
